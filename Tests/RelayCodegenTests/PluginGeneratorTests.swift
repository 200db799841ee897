import RelaySpec
import Testing

@testable import RelayCodegen

@Suite struct SwiftNamesTests {
    @Test(arguments: [
        ("api_key", "apiKey"), ("userID", "userID"), ("$type", "type"), ("class", "`class`"), ("1st", "_1st"),
        ("x-forwarded-for", "xForwardedFor"), ("", "value"), ("camelCase", "camelCase"),
    ])
    func properties(name: String, expected: String) {
        #expect(SwiftNames.property(name) == expected)
    }

    @Test(arguments: [
        ("user_activity", "UserActivity"), ("string", "StringType"), ("3d", "T3d"), ("input", "InputType"),
    ])
    func types(name: String, expected: String) {
        #expect(SwiftNames.type(name) == expected)
    }

    @Test func rawStringsHoldAnyText() {
        #expect(SwiftNames.rawDelimiter(for: "plain") == "#")
        #expect(SwiftNames.rawDelimiter(for: "a \"# b") == "##")
    }
}

@Suite struct PluginGeneratorTests {
    let spec = try! PluginSpec.decode(
        yaml: """
            name: demo_plugin
            connection:
              key: {type: credential_secret_key, required: true}
            types:
              node: {child: {type: node, required: false}, kids: {type: "[]node", required: false}}
              user: {name: {type: string, required: true}}
            actions:
              get_user:
                description: Get a user
                input:
                  id: {type: integer, required: true, description: The id}
                  class: {type: string, required: false}
                  tags: {type: "[]string", required: false}
                output:
                  user: {type: user, required: true}
                  tree: {type: node, required: false}
            tasks:
              poll:
                state:
                  cursor: {type: string}
                output:
                  events: {type: "[]object", required: true}
            """, file: "spec.yaml")

    func file(_ path: String) -> String? {
        PluginGenerator(spec: spec, specText: "name: demo_plugin\n", relayPath: "/relay").files().first {
            $0.path == path
        }?.contents
    }

    @Test func laysOutAPackage() {
        let paths = PluginGenerator(spec: spec, specText: "", relayPath: "/relay").files().map(\.path)
        #expect(paths.contains("Package.swift"))
        #expect(paths.contains("Sources/DemoPluginPlugin/Actions/GetUser.swift"))
        #expect(paths.contains("Sources/DemoPluginPlugin/Tasks/Poll.swift"))
        #expect(paths.contains("Sources/relay-plugin-demo_plugin/main.swift"))
        #expect(paths.contains("Tests/DemoPluginPluginTests/PluginTests.swift"))
    }

    @Test func typesInputsAndOutputsFromTheSpec() throws {
        let action = try #require(file("Sources/DemoPluginPlugin/Actions/GetUser.swift"))
        #expect(action.contains("public var id: Int\n"))
        #expect(action.contains("public var `class`: String?\n"))
        #expect(action.contains("public var tags: [String]?\n"))
        #expect(action.contains("public var user: UserModel\n"))
        #expect(action.contains("case `class` = \"class\""))
        let connection = try #require(file("Sources/DemoPluginPlugin/Connection.swift"))
        #expect(connection.contains("public var key: CredentialSecretKey\n"))
    }

    @Test func aTypeThatHoldsItselfIsTypedLoosely() throws {
        let types = try #require(file("Sources/DemoPluginPlugin/Types.swift"))
        #expect(types.contains("public var child: JSONValue?\n"))
        #expect(types.contains("public var kids: [NodeModel]?\n"))
    }

    @Test func thePackageDependsOnRelayByPath() throws {
        let manifest = try #require(file("Package.swift"))
        #expect(manifest.contains(#".package(name: "Relay", path: "/relay")"#))
    }
}
