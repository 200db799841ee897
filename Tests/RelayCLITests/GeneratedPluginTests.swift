import Foundation
import Testing

/// `relay plugin new` on hard specs of the corpus: the generated package builds (against this Relay checkout) and
/// its executable answers `info` and `sample`. Slow (a first build compiles Relay's dependencies again, in a
/// scratch folder shared by the generated packages); set RELAY_SKIP_SLOW_TESTS=1 to skip it locally.
@Suite(
    .serialized,
    .enabled(
        if: PluginCommandTests.hasCorpus && ProcessInfo.processInfo.environment["RELAY_SKIP_SLOW_TESTS"] == nil,
        "needs the corpus; skipped when RELAY_SKIP_SLOW_TESTS is set"))
struct GeneratedPluginTests {
    static let scratch = RelayProcess.packageRoot.appendingPathComponent(".build/generated-plugins").path

    /// zoom: actions, a trigger, a task and custom types; influxdb: custom types in custom types and [][]string;
    /// rapid7_insightidr: the largest spec, with `[]` and unusual field names.
    @Test(arguments: ["zoom", "influxdb", "rapid7_insightidr"])
    func theGeneratedPluginBuildsAndRuns(plugin: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-generated-\(plugin)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let generated = try await RelayProcess.run([
            "plugin", "new", "--spec", "\(PluginCommandTests.corpus)/specs/\(plugin)/plugin.spec.yaml", directory.path,
            "--relay-path", RelayProcess.packageRoot.path,
        ])
        #expect(generated.status == 0, "\(generated.stderr)")

        let build = try await Shell.run(
            ["swift", "build", "--build-tests", "--scratch-path", Self.scratch], in: directory.path)
        #expect(build.status == 0, "swift build failed:\n\(build.output.suffix(3000))")
        guard build.status == 0 else { return }

        let executable = "\(Self.scratch)/debug/relay-plugin-\(plugin)"
        let info = try await Shell.run([executable, "info"], in: directory.path)
        #expect(info.status == 0)
        #expect(info.output.contains("Name:        \(plugin)"))
        let spec = try String(
            contentsOfFile: "\(PluginCommandTests.corpus)/specs/\(plugin)/plugin.spec.yaml", encoding: .utf8)
        let firstAction = try #require(
            spec.components(separatedBy: "\nactions:\n").last?.split(separator: "\n").first?
                .trimmingCharacters(in: .whitespaces).dropLast())
        let sample = try await Shell.run([executable, "sample", String(firstAction)], in: directory.path)
        #expect(sample.status == 0)
        #expect(sample.output.contains("\"action\":\"\(firstAction)\""))
        #expect(sample.output.contains("\"type\":\"action_start\""))
    }
}

enum Shell {
    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs a command with stdout and stderr together in a file (no pipe can fill up).
    static func run(_ command: [String], in directory: String) async throws -> Result {
        try await OffPool.run { try runBlocking(command, in: directory) }
    }

    static func runBlocking(_ command: [String], in directory: String) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("relay-shell-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return Result(status: process.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}
