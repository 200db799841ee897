import Foundation
import Testing

/// A spec or workflow of a few lines of nested aliases ("billion laughs"), or nested 100,000 levels deep, made
/// every YAML reader hang and grow to gigabytes (or overflow the stack). Each command now exits at once with the
/// file, line, limit and what was found. A command still running after the bound is killed and fails the test.
@Suite struct YAMLBombTests {
    /// Nine levels of nine aliases under a step's input: 10^9 nodes once expanded.
    static let bombLines: [String] =
        ["      x0: &a0 [" + Array(repeating: "\"lol\"", count: 9).joined(separator: ", ") + "]"]
        + (1...8).map { level in
            "      x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]"
        }

    static let bombMessage =
        "13:21: alias *a4 brings the document to 207623 nodes, past the limit of 200000 "
        + "(an alias counts every node it repeats)"

    func withProject(workflow: String, _ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bomb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("workflows"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try workflow.write(
            to: directory.appendingPathComponent("workflows/bomb.yaml"), atomically: true, encoding: .utf8)
        try await body(directory)
    }

    static let bombWorkflow = """
        name: bomb
        trigger: {plugin: timer, trigger: tick, input: {interval: 60}}
        steps:
          - id: a
            plugin: base64
            action: encode
            input:

        """ + bombLines.joined(separator: "\n") + "\n"

    @Test(arguments: [["workflow", "validate"], ["up", "--port", "0"]])
    func anAliasBombWorkflowIsAClearError(command: [String]) async throws {
        try await withProject(workflow: Self.bombWorkflow) { directory in
            let result = try #require(
                try await RelayProcess.runBounded(command + ["--dir", directory.path]),
                "relay \(command.joined(separator: " ")) hung on the alias bomb")
            #expect(result.status == 2)
            #expect(result.stderr == "relay: \(directory.path)/workflows/bomb.yaml:\(Self.bombMessage)\n")
        }
    }

    @Test func aDeeplyNestedWorkflowIsAClearError() async throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        try await withProject(workflow: "name: deep\nsteps: \(deep)\n") { directory in
            let result = try #require(
                try await RelayProcess.runBounded(["workflow", "validate", "--dir", directory.path]),
                "relay workflow validate hung on deep nesting")
            #expect(result.status == 2)
            #expect(
                result.stderr == "relay: \(directory.path)/workflows/bomb.yaml:2:9: nesting past 1000 levels "
                    + "(the YAML parser's own limit); the limit is 64 levels\n")
        }
    }

    @Test func anAliasBombSpecIsAClearErrorForSchemaAndValidate() async throws {
        let hello = RelayProcess.packageRoot.path + "/Sources/RelayPlugins/Specs/hello.spec.yaml"
        let spec = try String(contentsOfFile: hello, encoding: .utf8)
        let bomb = "x_bomb:\n  input:\n" + Self.bombLines.map { String($0.dropFirst(2)) }.joined(separator: "\n") + "\n"
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-bomb-\(UUID().uuidString).spec.yaml").path
        try (bomb + spec).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let message =
            "alias *a4 brings the document to 207604 nodes, past the limit of 200000 "
            + "(an alias counts every node it repeats)"

        let schema = try #require(
            try await RelayProcess.runBounded(["plugin", "schema", path]), "relay plugin schema hung")
        #expect(schema.status == 2)
        #expect(schema.stderr == "relay: \(path):8:19: \(message)\n")

        let validate = try #require(
            try await RelayProcess.runBounded(["plugin", "validate", path]), "relay plugin validate hung")
        #expect(validate.status == 1)
        #expect(validate.stdout == "\(path):8: syntax: column 19: \(message)\n")
    }
}
