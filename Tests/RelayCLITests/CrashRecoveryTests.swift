import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

/// `relay up` killed with SIGKILL in the middle of a burst of runs, then started again: every event gives exactly
/// one run, every run finishes, and every step of every run completes exactly once.
@Suite(.serialized) struct CrashRecoveryTests {
    static let workflow = """
        name: crash
        trigger: {plugin: webhook, trigger: webhook, input: {path: crash}}
        steps:
          - {id: encode, plugin: base64, action: encode, input: {content: "event {{ trigger.n }}"}}
          - {id: hash, plugin: hashit, action: string, input: {string: "{{ steps.encode.output.data }}"}}
          - {id: split, plugin: type_converter, action: string_to_list,
             input: {input: "{{ steps.hash.output.md5 }}", delimiter: "a"}}
        """

    /// `relay up` on any free port (the test publishes its events itself): a port picked at random here could be
    /// taken by a parallel test's server or broker, and the process would exit at once.
    func startRelay(_ directory: URL, log: URL) throws -> Process {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", directory.path, "--port", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        return process
    }

    func counts(_ database: SQLiteDatabase) async throws -> (runs: Int, finished: Int) {
        let counts = try await SQLiteRunStore(readingFrom: database).runCounts()
        return (counts.values.reduce(0, +), counts.filter { $0.key.isFinished }.values.reduce(0, +))
    }

    @Test func everyRunFinishesExactlyOnceAfterAKill() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("workflows"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.workflow.write(
            to: directory.appendingPathComponent("workflows/crash.yaml"), atomically: true, encoding: .utf8)
        let total = 2000

        // The events are published into the project's file by this process, as a second writer.
        let database = try SQLiteDatabase(path: ProjectLayout(root: directory.path).database)
        let bus = try EmbeddedBus(database: database)
        _ = try SQLiteRunStore(bus: bus)
        let instance = TriggerBinding(plugin: "webhook", trigger: "webhook", input: ["path": "crash"]).instanceID
        try await bus.publish(
            (0..<total).map { n in
                TriggerEvent(id: "event-\(n)", instance: instance, output: ["n": .int(n)]).message
            })

        let first = try startRelay(directory, log: directory.appendingPathComponent("first.log"))
        var finishedBeforeKill = 0
        #expect(
            await waitFor {
                finishedBeforeKill = (try? await counts(database).finished) ?? 0
                return finishedBeforeKill >= total / 10
            }, "runs finish before the kill")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        #expect(finishedBeforeKill < total, "the kill must come mid-burst")

        let second = try startRelay(directory, log: directory.appendingPathComponent("second.log"))
        defer { if second.isRunning { second.terminate() } }
        let secondLog = directory.appendingPathComponent("second.log")
        #expect(
            await waitFor(seconds: 120) { (try? await counts(database).finished) ?? 0 >= total || !second.isRunning },
            "every run finishes after the restart")
        try #require(
            second.isRunning, "relay up exited: \((try? String(contentsOf: secondLog, encoding: .utf8)) ?? "")")
        second.terminate()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0, "SIGTERM drains and exits 0")

        let (runs, finished) = try await counts(database)
        #expect(runs == total, "one run per event")
        #expect(finished == total)
        let check = try await database.read { db -> [Int64] in
            let failed = try db.query("SELECT COUNT(*) FROM runs WHERE status != 'succeeded'").first![0].int ?? -1
            let completions = try db.query("SELECT COUNT(*) FROM steps WHERE status = 'succeeded'").first![0].int ?? -1
            let duplicates =
                try db.query(
                    "SELECT COUNT(*) FROM (SELECT run_id, step_id FROM steps WHERE status = 'succeeded' "
                        + "GROUP BY run_id, step_id HAVING COUNT(*) > 1)"
                ).first![0].int ?? -1
            let retried = try db.query("SELECT COUNT(*) FROM steps WHERE attempt > 1").first![0].int ?? -1
            return [failed, completions, duplicates, retried]
        }
        #expect(check[0] == 0, "every run succeeded")
        #expect(check[1] == Int64(total * 3), "every step of every run completed")
        #expect(check[2] == 0, "no step completed twice")
        #expect(check[3] == 0, "nothing needed a retry")
    }
}
