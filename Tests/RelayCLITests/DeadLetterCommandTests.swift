import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTransport
import Testing

/// `relay dlq list|show|redrive|discard` and `relay events replay` against a running `relay up`, as an operator
/// runs them: on the project's store file.
@Suite(.serialized) struct DeadLetterCommandTests {
    static let workflow = """
        name: greet
        trigger: {plugin: webhook, trigger: webhook, input: {path: greet}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: "{{ trigger.body }}"}}
        """

    struct Project {
        let directory: URL
        var path: String { directory.path }
        let database: SQLiteDatabase

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-dlq-\(UUID().uuidString)")
            let workflows = directory.appendingPathComponent("workflows")
            try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
            try DeadLetterCommandTests.workflow.write(
                to: workflows.appendingPathComponent("greet.yaml"), atomically: true, encoding: .utf8)
            database = try SQLiteDatabase(path: ProjectLayout(root: directory.path).database)
        }

        var store: SQLRunStore { SQLRunStore(readingFrom: database) }

        func succeededRuns() async -> Int {
            (try? await store.runs(limit: 100).filter { $0.status == .succeeded }.count) ?? 0
        }
    }

    /// `relay up --port 0` with stderr in a file, until it serves.
    func startRelay(_ project: Project, _ extra: [String] = []) async throws -> (Process, URL) {
        let log = project.directory.appendingPathComponent("relay-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", project.path, "--port", "0"] + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let ready = await waitFor {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.contains("http://127.0.0.1:") || !process.isRunning
        }
        try #require(
            ready && process.isRunning,
            "relay up did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        return (process, log)
    }

    func relay(_ arguments: [String], _ project: Project) async throws -> RelayProcess.Result {
        try await RelayProcess.run(arguments + ["--dir", project.path], environment: ["RELAY_BROKERS": ""])
    }

    @Test func deadLettersAreListedShownRedrivenAndDiscardedAndEventsReplayed() async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        let (up, log) = try await startRelay(project)
        defer { if up.isRunning { up.terminate() } }

        // A run, and a poison message on relay.events (put there as another process would).
        let published = try await relay(
            ["events", "publish", "--trigger", "greet", "--json", #"{"body": "Ada"}"#], project)
        #expect(published.status == 0, "\(published.stderr)")
        #expect(await waitFor { await project.succeededRuns() == 1 })
        let bus = try EmbeddedBus(database: project.database)
        try await bus.publish([BusMessage(topic: Topics.events, key: "poison", value: Array("not json".utf8))])
        #expect(await waitFor { (try? await project.store.deadLetters(limit: 10, after: nil).count) == 1 })

        let list = try await relay(["dlq", "list", "--json"], project)
        #expect(list.status == 0, "\(list.stderr)")
        let listed = try JSONParser.parse(list.stdout).arrayValue ?? []
        #expect(listed.count == 1)
        let first = try #require(listed.first)
        #expect(first["source_topic"] == "relay.events")
        #expect(first["key"] == "poison")
        #expect(first["excerpt"] == "not json")
        #expect(first["reason"]?.stringValue?.hasPrefix("not an event: ") == true, "\(first)")
        let id = try #require(first["id"]?.intValue)
        let text = try await relay(["dlq", "list"], project)
        #expect(text.stdout.hasPrefix("\(id)  "), "\(text.stdout)")
        #expect(text.stdout.contains("  relay.events  not an event: "), "\(text.stdout)")
        let show = try await relay(["dlq", "show", "\(id)"], project)
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("from:   relay.events at offset"), "\(show.stdout)")
        #expect(show.stdout.hasSuffix("not json\n"), "\(show.stdout)")

        // Redriven: back on relay.events, where it is poison again, so relay up dead-letters it anew.
        let redrive = try await relay(["dlq", "redrive", "\(id)"], project)
        #expect(redrive.status == 0, "\(redrive.stderr)")
        #expect(redrive.stdout == "redrove dead letter \(id) to relay.events (key poison)\n")
        var again: [DeadLetterRecord] = []
        #expect(
            await waitFor {
                again = (try? await project.store.deadLetters(limit: 10, after: nil)) ?? []
                return again.count == 1 && again[0].id > id
            })
        let twice = try await relay(["dlq", "redrive", "\(id)"], project)
        #expect(twice.status != 0)
        #expect(twice.stderr.contains("no dead letter \(id) in \(project.path)/.relay/relay.sqlite"), "\(twice.stderr)")

        let newID = try #require(again.first?.id)
        let discard = try await relay(["dlq", "discard", "\(newID)"], project)
        #expect(discard.status == 0, "\(discard.stderr)")
        #expect(discard.stdout == "discarded dead letter \(newID)\n")
        #expect(try await relay(["dlq", "list"], project).stdout.isEmpty)
        let unknown = try await relay(["dlq", "discard", "\(newID)"], project)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no dead letter \(newID)"), "\(unknown.stderr)")

        // The run's event replayed: a new event with a new id, a second run on the same input.
        let replay = try await relay(["events", "replay", "--workflow", "greet", "--since", "-1h"], project)
        #expect(replay.status == 0, "\(replay.stderr)")
        let lines = replay.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("published 1 event(s) of webhook.webhook#") == true, "\(replay.stdout)")
        #expect(lines.count == 2, "\(replay.stdout)")
        #expect(await waitFor { await project.succeededRuns() == 2 })
        let runs = try await project.store.runs(limit: 10)
        var inputs: [JSONValue] = []
        for run in runs { inputs.append(try await project.store.run(id: run.id)?.triggerEvent ?? .null) }
        #expect(inputs == [["body": "Ada"], ["body": "Ada"]])
        let bad = try await relay(["events", "replay", "--workflow", "greet", "--since", "yesterday"], project)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains(#"--since: expected a time in ISO 8601 (2026-12-04T10:00:00Z)"#), "\(bad.stderr)")

        up.terminate()
        up.waitUntilExit()
        #expect(up.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    @Test func anEventRetentionThatIsNoDurationIsRefused() async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        let result = try await relay(["up", "--port", "0", "--event-retention", "5 weeks"], project)
        #expect(result.status != 0)
        #expect(
            result.stderr.contains(#"--event-retention: expected a duration from 0 to 3650d such as 30d, 12h"#),
            "\(result.stderr)")
    }
}
