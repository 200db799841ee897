import Foundation
import RelayCore
import RelayEngine
import RelayTransport
import Testing

/// A Python plugin's trigger under `relay up`: the trigger runs as a `run` process whose `dispatcher.url` is
/// Relay's loopback endpoint; its events start runs whose step runs the same plugin's action.
@Suite struct ExternalTriggerTests {
    static let python: String? = {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["RELAY_TEST_PYTHON"],
            RelayProcess.packageRoot.appendingPathComponent(".build/python/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test(.enabled(if: python != nil, "no Python with insightconnect-plugin-runtime: run scripts/setup-python"))
    func aPythonTriggerStartsRuns() async throws {
        let outputs = try await runProject(
            trigger: "{plugin: relay_test, trigger: tick, connection: py, input: {count: 3, interval: 1}}",
            input: #"{message: "{{ trigger.message }}"}"#, expect: 3)
        #expect(
            outputs.prefix(3).map { $0 } == [
                #"{"message":"tick 1"}"#, #"{"message":"tick 2"}"#, #"{"message":"tick 3"}"#,
            ])
    }

    /// A spec task on a schedule: it runs again at once while it reports more pages, each output item is an
    /// event, and its state (the page) is kept between runs.
    @Test(.enabled(if: python != nil, "no Python with insightconnect-plugin-runtime: run scripts/setup-python"))
    func aPythonTaskRunsOnItsScheduleWithState() async throws {
        let outputs = try await runProject(
            trigger: "{plugin: relay_test, task: monitor_pages, every: 1h, connection: py, input: {pages: 3}}",
            input: #"{message: "page {{ trigger.page }}"}"#, expect: 3)
        #expect(
            outputs.prefix(3).map { $0 } == [
                #"{"message":"page 1"}"#, #"{"message":"page 2"}"#, #"{"message":"page 3"}"#,
            ])
    }

    func runProject(trigger: String, input: String, expect count: Int) async throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-external-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for folder in ["workflows", "plugins", "connections"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let fixture = RelayProcess.packageRoot.appendingPathComponent("Tests/Fixtures/python/relay_test_plugin").path
        try """
        spec: \(fixture)/plugin.spec.yaml
        command: [\(Self.python!), \(fixture)/bin/relay_test]
        """.write(to: directory.appendingPathComponent("plugins/relay_test.yaml"), atomically: true, encoding: .utf8)
        // The connection's api_key is a secret: stored encrypted, as a user would, with relay connections add.
        let added = try await RelayProcess.run([
            "connections", "add", "py", "--plugin", "relay_test", "--dir", directory.path, "--json",
            #"{"api_key": {"secretKey": "s3cr3t-KEY-0123456789"}, "base_url": "https://example.com"}"#,
        ])
        #expect(added.status == 0, "\(added.stderr)")
        try """
        name: external
        trigger: \(trigger)
        steps:
          - {id: echo, plugin: relay_test, action: echo, connection: py, input: \(input)}
        """.write(to: directory.appendingPathComponent("workflows/external.yaml"), atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", directory.path, "--port", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let path = ProjectLayout(root: directory.path).database
        var outputs: [String] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline, outputs.count < count {
            try await Task.sleep(for: .milliseconds(500))
            guard FileManager.default.fileExists(atPath: path) else { continue }
            // Until relay up has created its tables, there is nothing to read yet.
            outputs = (try? await Self.succeededOutputs(SQLiteDatabase(path: path))) ?? []
        }
        process.terminate()
        process.waitUntilExit()
        #expect(outputs.count >= count)
        return outputs
    }

    /// The outputs of succeeded steps in the order the steps were scheduled, which is the events' order (the
    /// dispatcher takes them in order); runs run in parallel and may finish in any order.
    static func succeededOutputs(_ database: SQLiteDatabase) async throws -> [String] {
        try await database.read { db in
            try db.query("SELECT output FROM steps WHERE status = 'succeeded' ORDER BY scheduled_at").compactMap {
                $0[0].text
            }
        }
    }
}
