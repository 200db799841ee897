import RelayCore
import RelaySpec
import Testing

/// The reference generator's rules, each on a small spec of our own (the corpus test covers real specs).
@Suite struct SchemaGeneratorTests {
    func document(_ yaml: String) throws -> JSONValue {
        try SchemaGenerator(spec: try PluginSpec.decode(yaml: yaml, file: "t.yaml")).document()
    }

    @Test func emptySectionsAreEmptyObjectsAndConnectionIsAlwaysThere() throws {
        let doc = try document("name: t\nactions:\n  a: {title: A}\n")
        #expect(doc == ["connection": [:], "actions": ["a": ["input": [:], "output": [:]]]])
    }

    @Test func writesPropertiesWithPositionalOrderAndSortedRequired() throws {
        let doc = try document(
            """
            actions:
              a:
                input:
                  zeta: {type: string, required: true, order: 7, example: x, title: Zeta}
                  URL: {type: int, required: "false", default: 3}
                  flag: {type: bool, required: no, enum: [yes, no]}
            """)
        let input = try #require(doc["actions"]?["a"]?["input"])
        #expect(input["title"] == "Variables")
        #expect(input["type"] == "object")
        #expect(input["definitions"] == [:])
        // Python truthiness: the quoted string "false" counts as required; code-point order puts "URL" first.
        #expect(input["required"] == ["URL", "zeta"])
        #expect(input["properties"]?["zeta"] == ["type": "string", "title": "Zeta", "order": 1])
        #expect(input["properties"]?["URL"] == ["type": "integer", "default": 3, "order": 2])
        #expect(input["properties"]?["flag"] == ["type": "boolean", "enum": [true, false], "order": 3])
    }

    @Test func mapsEveryPrimitiveType() throws {
        let doc = try document(
            """
            connection:
              a: {type: date}
              b: {type: bytes}
              c: {type: float}
              d: {type: object}
              e: {type: "[]bytes"}
              f: {type: "[][]string"}
              g: {type: array}
              h: {type: integar}
            """)
        let p = try #require(doc["connection"]?["properties"])
        #expect(p["a"] == ["type": "string", "format": "date-time", "displayType": "date", "order": 1])
        #expect(p["b"] == ["type": "string", "format": "bytes", "displayType": "bytes", "order": 2])
        #expect(p["c"] == ["type": "number", "order": 3])
        #expect(p["d"] == ["type": "object", "order": 4])
        #expect(
            p["e"] == [
                "type": "array", "items": ["type": "string", "format": "bytes", "displayType": "bytes"], "order": 5,
            ])
        #expect(p["f"] == ["type": "array", "order": 6])
        #expect(p["g"] == ["order": 7])
        #expect(p["h"] == ["order": 8])
    }

    @Test func builtInAndCustomTypesBecomeDefinitionsTransitively() throws {
        let doc = try document(
            """
            connection:
              key: {type: credential_secret_key, required: true}
            types:
              file: {name: {type: string}}
              leaf: {secret: {type: password, required: true}}
              node: {leaves: {type: "[]leaf"}, self: {type: node}}
            actions:
              a:
                output:
                  n: {type: node}
                  f: {type: file}
            """)
        let connection = try #require(doc["connection"])
        #expect(connection["properties"]?["key"] == ["$ref": "#/definitions/credential_secret_key", "order": 1])
        #expect(connection["definitions"]?["credential_secret_key"]?["required"] == ["secretKey"])
        let output = try #require(doc["actions"]?["a"]?["output"])
        let definitions = try #require(output["definitions"]?.objectValue)
        #expect(Set(definitions.keys) == ["node", "leaf", "password", "file"])
        #expect(
            definitions["leaf"] == [
                "type": "object", "title": "leaf", "required": ["secret"],
                "properties": ["secret": ["$ref": "#/definitions/password", "order": 1]],
            ])
        // The built-in file type wins over a custom type of the same name.
        #expect(definitions["file"]?["id"] == "file")
        #expect(
            definitions["node"]?["properties"]?["leaves"] == [
                "type": "array", "items": ["$ref": "#/definitions/leaf"], "order": 1,
            ])
    }

    @Test func aTaskOutputIsReshapedIntoAnArraySchema() throws {
        let doc = try document(
            """
            tasks:
              t:
                output:
                  zz: {type: string, title: Last, required: true}
                  aa: {type: "[]object", required: false}
                state:
                  cursor: {type: string}
            """)
        let task = try #require(doc["tasks"]?["t"])
        #expect(
            task["output"] == [
                "type": "array", "items": [:], "title": [:], "description": [:], "required": ["zz"], "definitions": [:],
            ])
        #expect(task["state"]?["properties"]?["cursor"] == ["type": "string", "order": 1])
        #expect(task["input"] == [:])
    }

    @Test func aFieldWithoutTypeIsAnError() {
        #expect(throws: RelayError.self) { try document("actions:\n  a:\n    input:\n      x: {title: X}\n") }
    }

    @Test func anArrayOfAnUnknownTypeIsAnErrorWithItsLine() {
        do {
            _ = try document("actions:\n  a:\n    input:\n      x: {type: \"[]nope\"}\n")
            Issue.record("expected an error")
        } catch {
            #expect(
                (error as? RelayError)?.message
                    == "t.yaml:4:17: actions.a.input.x: invalid array type '[]nope': 'nope' is neither a spec "
                    + "type nor defined under types"
            )
        }
    }
}
