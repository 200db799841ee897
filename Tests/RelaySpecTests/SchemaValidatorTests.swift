import RelayCore
import RelaySpec
import Testing

@Suite struct SchemaValidatorTests {
    static let spec = """
        connection:
          key: {type: credential_username_password, required: true}
        types:
          host: {name: {type: string, required: true}, port: {type: int, required: false}}
        actions:
          scan:
            input:
              urls: {type: "[]string", required: true}
              mode: {type: string, enum: [fast, slow], required: false, default: fast}
              hosts: {type: "[]host", required: false}
              note: {type: string, required: true}
              ratio: {type: float, required: false}
              when: {type: date, required: false}
        """

    func schema(_ path: String...) throws -> JSONValue {
        var node: JSONValue? = try SchemaGenerator(spec: try PluginSpec.decode(yaml: Self.spec, file: "t.yaml"))
            .document()
        for key in path { node = node?[key] }
        return try #require(node)
    }

    func problems(_ value: JSONValue, options: SchemaValidator.Options = .input) throws -> [String] {
        try SchemaValidator(schema: schema("actions", "scan", "input"), options: options).validate(value).map(
            \.description)
    }

    @Test func acceptsAValidInputWithExtraProperties() throws {
        #expect(try problems(["urls": ["a"], "note": "n", "extra": 1, "ratio": 1, "when": "not-a-date"]) == [])
    }

    @Test func namesEachProblemWithItsPath() throws {
        #expect(
            try problems(["urls": ["a", "b", 3], "note": "n"]) == ["input.urls[2]: expected string, found integer"])
        #expect(
            try problems(["urls": [], "note": "n", "mode": "medium"]) == [
                #"input.mode: expected one of ["fast", "slow"], found "medium""#
            ])
        #expect(
            try problems(["urls": [], "note": "n", "hosts": [["port": 1.5]]]) == [
                "input.hosts[0].name: required property is missing",
                "input.hosts[0].port: expected integer, found number",
            ])
        #expect(try problems(["note": "n"]) == ["input.urls: required property is missing"])
    }

    /// Problems come in the code point order of the keys whatever order the object has them in, each with its own
    /// path (a sibling's path is never left on the next one's).
    @Test func problemsComeInKeyOrderWithTheirOwnPaths() throws {
        let expected = [
            "input.hosts[0].name: required property is missing",
            "input.hosts[0].port: expected integer, found string",
            "input.hosts[1].name: expected string, found boolean",
            "input.mode: expected string, found integer",
            "input.note: expected string, found integer",
            "input.urls[0]: expected string, found integer",
        ]
        let unsorted: JSONValue = [
            "urls": [1], "mode": 2, "hosts": [["port": "x"], ["name": true]], "note": 3,
        ]
        let sorted: JSONValue = [
            "hosts": [["port": "x"], ["name": true]], "mode": 2, "note": 3, "urls": [1],
        ]
        let found = try problems(unsorted)
        #expect(found == expected, "\(found)")
        #expect(try problems(sorted) == expected)
    }

    @Test func aRequiredInputMayNotBeNullOrEmpty() throws {
        #expect(try problems(["urls": [], "note": ""]) == ["input.note: required input is an empty string"])
        #expect(
            try problems(["urls": [], "note": nil]) == [
                "input.note: expected string, found null", "input.note: required input is null",
            ])
        // Outputs and connections only get the JSON-schema rules.
        #expect(try problems(["urls": [], "note": ""], options: .standard) == [])
    }

    @Test func integersMayBeWrittenAsWholeFloatsButBooleansAreNotNumbers() throws {
        #expect(try problems(["urls": [], "note": "n", "hosts": [["name": "h", "port": 80.0]]]) == [])
        #expect(
            try problems(["urls": [], "note": "n", "ratio": true]) == ["input.ratio: expected number, found boolean"])
    }

    @Test func defaultsAreNotInjected() throws {
        let input: JSONValue = ["urls": [], "note": "n"]
        #expect(try problems(input) == [])
        #expect(input["mode"] == nil)
    }

    @Test func followsReferencesIntoBuiltInDefinitions() throws {
        let connection = SchemaValidator(schema: try schema("connection"))
        #expect(
            connection.validate(["key": ["username": "u", "password": "p"]], at: JSONPath(root: "connection")) == [])
        #expect(
            connection.validate(["key": ["username": "u"]], at: JSONPath(root: "connection")).map(\.description) == [
                "connection.key.password: required property is missing"
            ])
    }

    @Test func aDanglingReferenceIsReportedNotFollowed() {
        let validator = SchemaValidator(schema: ["properties": ["a": ["$ref": "#/definitions/missing"]]])
        #expect(
            validator.validate(["a": 1]).map(\.description) == [
                "input.a: the schema refers to #/definitions/missing, which it does not define"
            ])
    }

    @Test func aRecursiveSchemaChecksEveryLevelItReaches() throws {
        // A tree whose nodes refer to their own definition: checked at every depth of the value.
        let node: JSONValue = [
            "type": "object", "required": ["name"],
            "properties": [
                "name": ["type": "string"],
                "children": ["type": "array", "items": ["$ref": "#/definitions/node"]],
            ],
        ]
        let tree = SchemaValidator(schema: ["$ref": "#/definitions/node", "definitions": ["node": node]])
        let value: JSONValue = ["name": "a", "children": [["name": "b", "children": [["name": 3], [:]]]]]
        #expect(
            tree.validate(value).map(\.description) == [
                "input.children[0].children[0].name: expected string, found integer",
                "input.children[0].children[1].name: required property is missing",
            ])
        // A schema that is only a reference to itself ends at the nesting limit instead of recursing forever.
        let loop = SchemaValidator(schema: ["$ref": "#"])
        #expect(loop.validate(1).map(\.description) == ["input: schema reference # nests too deeply"])
    }

    @Test func declaredPropertiesAreCheckedBeforeAdditionalOnesAndTuplesItemByItem() {
        let validator = SchemaValidator(
            schema: [
                "properties": ["b": ["type": "string"], "z": false],
                "additionalProperties": ["type": "integer"],
                "required": ["b"],
            ])
        #expect(
            validator.validate(["a": "x", "z": 1, "b": 2, "c": 3]).map(\.description) == [
                "input.b: expected string, found integer",
                "input.z: no value is allowed here",
                "input.a: expected integer, found string",
            ])
        let tuple = SchemaValidator(schema: ["items": [["type": "string"], ["const": 1], ["enum": ["x", nil]]]])
        #expect(
            tuple.validate([1, 1.0, "y", "extra"]).map(\.description) == [
                "input[0]: expected string, found integer",
                #"input[2]: expected one of ["x", null], found "y""#,
            ])
        let shapes = SchemaValidator(
            schema: ["oneOf": [["type": "number"], ["type": "integer"]], "anyOf": [["type": ["null", "weird"]]]])
        #expect(
            shapes.validate(2).map(\.description) == ["input: matches 2 of the allowed shapes, expected exactly one"])
    }

    @Test func aLongChainOfReferencesCompilesWithoutRecursion() {
        // 100,000 definitions, each a reference to the next (a hostile spec's types can chain so): compiled one
        // after the other, and checked only as deep as the nesting limit.
        var definitions = JSONObject()
        for index in 0..<100_000 { definitions["d\(index)"] = ["$ref": .string("#/definitions/d\(index + 1)")] }
        definitions["d100000"] = ["type": "string"]
        let chain = SchemaValidator(schema: ["$ref": "#/definitions/d0", "definitions": .object(definitions)])
        #expect(
            chain.validate("x").map(\.description) == ["input: schema reference #/definitions/d64 nests too deeply"])
    }
}
