import RelayCore
import Testing

@testable import RelaySpec

@Suite struct SpecDecodingTests {
    static let example = """
        plugin_spec_version: v2
        extension: plugin
        products: [insightconnect]
        name: example
        title: Example
        description: Shows the model
        version: 1.2.3
        vendor: rapid7
        support: community
        status: []
        tags: [one, two]
        hub_tags:
          use_cases: [data_utility]
          keywords: [demo]
          features: []
        troubleshooting: Restart it
        connection:
          api_key:
            type: credential_secret_key
            required: true
            example: {"secretKey": "x"}
        types:
          inner:
            value: {type: int, required: false}
          outer:
            inners: {type: "[]inner", required: true}
            matrix: {type: "[][]string", required: false}
        actions:
          go:
            title: Go
            description: Goes
            input:
              when: {type: date, required: false, example: 2024-08-05}
              flag: {type: bool, default: yes, required: no}
              mode: {type: string, enum: [a, b], default: a, required: true, order: 9, placeholder: P, tooltip: T}
            output:
              result: {type: outer, required: true}
        tasks:
          sweep:
            title: Sweep
            description: Sweeps
            schedule: {type: cron, value: "*/5 * * * *"}
            state:
              cursor: {type: string, description: Where it stopped}
            output:
              items: {type: "[]string", title: Items, description: Found}
        """

    @Test func decodesEveryPartOfTheModel() throws {
        let spec = try PluginSpec.decode(yaml: Self.example, file: "example.yaml")
        #expect(spec.name == "example")
        #expect(spec.version == "1.2.3")
        #expect(spec.tags == ["one", "two"])
        #expect(spec.hubTags == HubTags(useCases: ["data_utility"], keywords: ["demo"], features: []))
        #expect(spec.troubleshooting == ["Restart it"])
        #expect(spec.connection.map(\.name) == ["api_key"])
        #expect(spec.connection[0].type == .credential(.secretKey))
        #expect(spec.types.map(\.name) == ["inner", "outer"])
        #expect(spec.types[1].fields[0].type == .array(.custom("inner")))
        #expect(spec.types[1].fields[1].type == .array(.array(.primitive(.string))))
        let go = try #require(spec.action(named: "go"))
        #expect(go.input.map(\.name) == ["when", "flag", "mode"])
        #expect(go.input[0].example == "2024-08-05")
        #expect(go.input[1].defaultValue == true)
        #expect(go.input[1].required == false)
        #expect(go.input[2].enumValues == ["a", "b"])
        #expect(go.input[2].order == 9)
        #expect(go.input[2].placeholder == "P")
        #expect(go.input[2].tooltip == "T")
        #expect(go.input[2].line == 35)
        let sweep = try #require(spec.task(named: "sweep"))
        #expect(sweep.schedule == TaskSchedule(type: "cron", value: "*/5 * * * *"))
        #expect(sweep.state.map(\.name) == ["cursor"])
    }

    @Test func resolvesScalarsLikePyYAML() throws {
        let node = try YAMLDocument.parse(
            """
            a: yes
            b: "yes"
            c: 0777
            d: 1:30
            e: 1e3
            f: 1.0e+3
            g: 09
            h: ~
            i: 2024-08-05
            j: 1_000
            k: .5
            l: y
            """, file: "t.yaml")
        #expect(node["a"]?.scalar == .bool(true))
        #expect(node["b"]?.scalar == .string("yes"))
        #expect(node["c"]?.scalar == .int(511))
        #expect(node["d"]?.scalar == .int(90))
        #expect(node["e"]?.scalar == .string("1e3"))
        #expect(node["f"]?.scalar == .double(1000))
        #expect(node["g"]?.scalar == .string("09"))
        #expect(node["h"]?.scalar == .null)
        #expect(node["i"]?.scalar == .timestamp("2024-08-05"))
        #expect(node["j"]?.scalar == .int(1000))
        #expect(node["k"]?.scalar == .double(0.5))
        #expect(node["l"]?.scalar == .string("y"))
    }

    /// PyYAML silently keeps the last of duplicated keys; Relay refuses them, naming the key and where.
    @Test func aDuplicatedKeyIsAClearError() {
        do {
            _ = try YAMLDocument.parse("a: 1\nactions:\n  go: {}\n  go: {}\n", file: "t.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(
                error.message
                    == "t.yaml:3:3: not valid YAML: key 'go' appears more than once in one mapping (first "
                    + "here); keep one"
            )
        }
    }

    @Test func toleratesUnknownKeys() throws {
        let spec = try PluginSpec.decode(
            yaml: "name: x\nsomething_new: {a: 1}\nactions: {a: {input: {}, extra: 1}}\n", file: "s.yaml")
        #expect(spec.actions.map(\.name) == ["a"])
    }

    @Test(arguments: [
        (
            "name: x\nactions: [a, b]\n",
            "s.yaml:2:10: actions: expected a mapping of action names to actions, found a list"
        ),
        (
            "actions:\n  go:\n    input:\n      url: string\n",
            "s.yaml:4:12: actions.go.input.url: expected a mapping with type, title, description and "
                + "required, found the string \"string\""
        ),
        (
            "types:\n  t:\n    f: {type: string, enum: a}\n",
            "s.yaml:3:29: types.t.f.enum: expected a list of allowed values, found the string \"a\""
        ),
        ("tags: {a: 1}\n", "s.yaml:1:7: tags: expected a list, found a mapping"),
        ("- a\n- b\n", "s.yaml:1:1: expected a mapping of spec keys (name, version, actions, ...), found a list"),
    ])
    func shapeErrorsNameFileLineColumnAndKeyPath(yaml: String, message: String) {
        #expect(throws: RelayError.self) { try PluginSpec.decode(yaml: yaml, file: "s.yaml") }
        do {
            _ = try PluginSpec.decode(yaml: yaml, file: "s.yaml")
        } catch {
            #expect(error.message == message)
            #expect(error.code == .invalidSpec)
        }
    }

    @Test func yamlErrorsNameFileLineAndColumn() {
        do {
            _ = try PluginSpec.decode(yaml: "name: x\nactions:\n  a: {input: [1, 2}\n", file: "s.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidYAML)
            #expect(error.message.hasPrefix("s.yaml:3:"))
            #expect(error.message.contains("not valid YAML"))
        }
    }

    @Test func parsesTypeReferences() {
        #expect(TypeReference("[]string") == .array(.primitive(.string)))
        #expect(TypeReference("[][]int") == .array(.array(.primitive(.int))))
        #expect(TypeReference("credential_token") == .credential(.token))
        #expect(TypeReference("[]my_type").customTypeName == "my_type")
        #expect(TypeReference("[]my_type").description == "[]my_type")
    }
}
