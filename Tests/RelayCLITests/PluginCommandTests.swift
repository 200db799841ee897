import Foundation
import Testing

@Suite struct PluginCommandTests {
    static let corpus: String = {
        if let path = ProcessInfo.processInfo.environment["RELAY_CORPUS"], !path.isEmpty { return path }
        return RelayProcess.packageRoot.deletingLastPathComponent().appendingPathComponent(
            "shared/corpus/insightconnect"
        ).path
    }()
    static var hasCorpus: Bool { FileManager.default.fileExists(atPath: corpus + "/specs") }

    @Test(.enabled(if: hasCorpus), arguments: ["base64", "zoom", "influxdb", "active_directory_ldap"])
    func schemaPrintsExactlyTheReferenceFile(plugin: String) async throws {
        let result = try await RelayProcess.run(["plugin", "schema", "\(Self.corpus)/specs/\(plugin)/plugin.spec.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try String(contentsOfFile: "\(Self.corpus)/schemas/\(plugin).json", encoding: .utf8)
        #expect(result.stdout == expected)
    }

    @Test func theExamplePluginIsClean() async throws {
        let result = try await RelayProcess.run(["plugin", "validate", "Sources/RelayPlugins/Specs/hello.spec.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout == "")
        #expect(result.stderr.contains("1 spec(s) checked, 0 problem(s)"))
    }

    @Test func validateReportsProblemsLineByLineAndExitsOne() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = try String(
            contentsOfFile: RelayProcess.packageRoot.path + "/Sources/RelayPlugins/Specs/hello.spec.yaml",
            encoding: .utf8
        )
        .replacingOccurrences(of: "version: 1.0.0", with: "version: 1.0")
        .replacingOccurrences(of: "enable_cache: true", with: "enable_cache: false")
        let path = directory.appendingPathComponent("plugin.spec.yaml").path
        try spec.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await RelayProcess.run(["plugin", "validate", directory.path])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "\(path):7: version: version must be a string like 1.0.0, found the number 1.0 (quote it "
                    + "or add a patch number)",
                "\(path):21: enable-cache: a plugin with triggers must set enable_cache: true",
            ])
        let json = try await RelayProcess.run(["plugin", "validate", "--json", path])
        #expect(json.status == 1)
        #expect(json.stdout.contains("\"rule\": \"enable-cache\""))
        #expect(json.stdout.contains("\"line\": 21"))
    }

    @Test func missingFilesAndBadSpecsAreCleanErrors() async throws {
        let missing = try await RelayProcess.run(["plugin", "schema", "/nonexistent/plugin.spec.yaml"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "relay: /nonexistent/plugin.spec.yaml: no such file\n")
        let bad = try await RelayProcess.run([
            "plugin", "check-value", "Sources/RelayPlugins/Specs/hello.spec.yaml", "--schema", "actions.greet.input",
            "--json", "{\"names\": [1]",
        ])
        #expect(bad.status != 0)
        #expect(
            bad.stderr.contains(
                "--json: not valid JSON: line 1, column 14: expected ',' or '}' in an object, found end of input"))
    }

    /// There is no released package to depend on, and the build machine's source path means nothing where the
    /// binary is installed: `plugin new` asks for the Relay checkout and writes nothing without it.
    @Test func pluginNewRequiresTheRelayPath() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-new-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await RelayProcess.run([
            "plugin", "new", "--spec", "Sources/RelayPlugins/Specs/hello.spec.yaml", directory.path,
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--relay-path"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        let help = try await RelayProcess.run(["plugin", "new", "--help"])
        #expect(help.stdout.contains("--relay-path is required"), "\(help.stdout)")
    }

    @Test func checkValueValidatesAsTheRuntimeDoes() async throws {
        let invalid = try await RelayProcess.run(
            [
                "plugin", "check-value", "Sources/RelayPlugins/Specs/hello.spec.yaml", "--schema",
                "actions.greet.input", "--json", "-",
            ], stdin: #"{"names": ["Ada", 7], "punctuation": "?"}"#)
        #expect(invalid.status == 1)
        #expect(
            invalid.stdout == """
                input.names[1]: expected string, found integer
                input.punctuation: expected one of ["!", "."], found "?"

                """)
        let valid = try await RelayProcess.run([
            "plugin", "check-value", "Sources/RelayPlugins/Specs/hello.spec.yaml", "--schema", "connection", "--json",
            #"{"greeting": "Hi"}"#,
        ])
        #expect(valid.status == 0)
        #expect(valid.stdout == "valid\n")
    }
}
