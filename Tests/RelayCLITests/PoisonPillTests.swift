import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Hostile input to `relay up`, run as a process: JSON nested 100,000 levels deep on every path in (a webhook body,
/// a message already on the bus for each consumer, a plugin's reply) and numbers beyond a double. None may crash
/// the process; what cannot be handled is dead-lettered exactly once, across a kill and a restart (on a durable
/// bus a crash on a message is a crash loop), and the pipeline goes on with the next run.
@Suite(.serialized) struct PoisonPillTests {
    static let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)

    /// A plugin that answers as its input's `mode` says: a proper reply, a reply nested too deep, or an output
    /// with a number JSON cannot carry (as Python's json.dumps writes float("inf")).
    static let pluginScript = #"""
        #!/bin/sh
        input=$(cat)
        case "$input" in
          *'"mode":"deep"'*)
            printf '{"version":"v1","type":"action_event","body":{"status":"ok","output":{"result":'
            head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'
            printf '}}}\n' ;;
          *'"mode":"infinity"'*)
            printf '{"version":"v1","type":"action_event","body":{"status":"ok","output":{"result":Infinity}}}\n' ;;
          *)
            printf '{"version":"v1","type":"action_event","body":{"status":"ok","output":{"result":"fine"}}}\n' ;;
        esac
        """#

    static let spec = """
        plugin_spec_version: v2
        extension: plugin
        products: [insightconnect]
        name: poison
        title: Poison
        description: Replies as its input says
        version: 1.0.0
        vendor: relay
        support: relay
        status: []
        resources: {}
        tags: []
        hub_tags: {use_cases: [data_utility], keywords: [test], features: []}
        actions:
          reply:
            title: Reply
            description: Reply as the mode says
            input:
              mode: {title: Mode, description: How to reply, type: string, required: true}
            output:
              result: {title: Result, description: The result, type: object, required: false}
        """

    static let workflow = """
        name: poison
        trigger: {plugin: webhook, trigger: webhook, input: {path: poison}}
        steps:
          - {id: reply, plugin: poison, action: reply, input: {mode: "{{ trigger.json.mode }}"}}
        """

    struct Project {
        let directory: URL
        let database: SQLiteDatabase
        let bus: EmbeddedBus

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "relay-poison-\(UUID().uuidString)")
            for folder in ["workflows", "plugins", "poison"] {
                try FileManager.default.createDirectory(
                    at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            let script = directory.appendingPathComponent("poison/reply.sh")
            try PoisonPillTests.pluginScript.write(to: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
            try PoisonPillTests.spec.write(
                to: directory.appendingPathComponent("poison/plugin.spec.yaml"), atomically: true, encoding: .utf8)
            let plugin = directory.appendingPathComponent("poison").path
            try "spec: \(plugin)/plugin.spec.yaml\ncommand: [/bin/sh, \(plugin)/reply.sh]\n".write(
                to: directory.appendingPathComponent("plugins/poison.yaml"), atomically: true, encoding: .utf8)
            try PoisonPillTests.workflow.write(
                to: directory.appendingPathComponent("workflows/poison.yaml"), atomically: true, encoding: .utf8)
            database = try SQLiteDatabase(path: ProjectLayout(root: directory.path).database)
            bus = try EmbeddedBus(database: database)
            _ = try SQLRunStore(bus: bus)
        }

        func deadLetters() async throws -> [(topic: String, reason: String)] {
            try await bus.fetch(topic: Topics.dlq, after: 0, limit: 1000).map { delivery in
                let letter = try DeadLetter(delivery.message)
                return (letter.sourceTopic, letter.reason)
            }
        }

        func runs() async throws -> [(status: RunStatus, error: String)] {
            try await SQLRunStore(readingFrom: database).runs(limit: 1000).reversed().map {
                ($0.status, $0.error ?? "")
            }
        }

        func stepErrors() async throws -> [String] {
            try await database.read { db in
                try db.query("SELECT COALESCE(error, '') FROM steps ORDER BY scheduled_at").map { $0[0].text ?? "" }
            }
        }
    }

    /// `relay up --port 0` with stderr in a file; returns the process and the port it printed.
    func startRelay(_ project: Project) async throws -> (Process, Int, URL) {
        let log = project.directory.appendingPathComponent("relay-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", project.directory.path, "--port", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        var port = 0
        let ready = await waitFor {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let range = text.range(of: "http://127.0.0.1:") else { return !process.isRunning }
            port = Int(text[range.upperBound...].prefix(while: \.isNumber)) ?? 0
            return true
        }
        try #require(
            ready && process.isRunning,
            "relay up did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        return (process, port, log)
    }

    func post(_ body: String, port: Int) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/webhooks/poison")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func poisonIsDeadLetteredOnceAndThePipelineGoesOnAcrossARestart() async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        let instance = TriggerBinding(plugin: "webhook", trigger: "webhook", input: ["path": "poison"]).instanceID
        // Poison already on the bus before Relay starts, one for each consumer: the dispatcher's events and
        // results, the worker's jobs.
        let poison = Array(Self.deep.utf8)
        try await project.bus.publish([
            BusMessage(topic: Topics.events, key: instance, value: poison, headers: [:]),
            BusMessage(topic: Topics.results, key: "x", value: poison, headers: [:]),
            BusMessage(topic: Topics.jobs("poison"), key: "x", value: poison, headers: [:]),
        ])

        var (relay, port, log) = try await startRelay(project)
        defer { if relay.isRunning { relay.terminate() } }
        #expect(await waitFor { (try? await project.deadLetters().count) == 3 || !relay.isRunning })
        try #require(relay.isRunning, "relay up died: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let letters = try await project.deadLetters()
        #expect(Set(letters.map(\.topic)) == [Topics.events, Topics.results, Topics.jobs("poison")])
        for letter in letters {
            #expect(letter.reason.contains("at most 512 levels of nested arrays and objects"), "\(letter.reason)")
        }

        // A webhook body nested too deep, or with a number beyond a double: 400 that says why; nothing started.
        let (deepStatus, deepText) = try await post(Self.deep, port: port)
        #expect(deepStatus == 400)
        #expect(deepText.contains("at most 499 levels of nested arrays and objects"), "\(deepText)")
        let (hugeStatus, hugeText) = try await post(#"{"mode": "ok", "a": 1e999}"#, port: port)
        #expect(hugeStatus == 400)
        #expect(hugeText.contains("a number within a double's range"), "\(hugeText)")

        // A plugin's reply nested too deep, and one with Infinity: the step fails saying why, the run ends.
        #expect(try await post(#"{"mode": "deep"}"#, port: port).0 == 202)
        #expect(try await post(#"{"mode": "infinity"}"#, port: port).0 == 202)
        #expect(try await post(#"{"mode": "ok"}"#, port: port).0 == 202)
        #expect(await waitFor { (try? await project.runs().filter { $0.status.isFinished }.count) == 3 })
        let errors = try await project.stepErrors()
        #expect(errors.contains { $0.contains("the plugin's reply is JSON beyond what Relay reads") }, "\(errors)")
        #expect(errors.contains { $0.contains("output.result is Infinity, a number JSON cannot carry") }, "\(errors)")
        #expect(try await project.runs().map(\.status.rawValue).sorted() == ["failed", "failed", "succeeded"])

        // Killed and started again: nothing comes back, nothing is dead-lettered twice, and runs go on.
        kill(relay.processIdentifier, SIGKILL)
        relay.waitUntilExit()
        (relay, port, log) = try await startRelay(project)
        #expect(try await post(#"{"mode": "ok"}"#, port: port).0 == 202)
        #expect(await waitFor { (try? await project.runs().filter { $0.status == .succeeded }.count) == 2 })
        #expect(try await project.deadLetters().count == 3)
        #expect(relay.isRunning)
        relay.terminate()
        relay.waitUntilExit()
        #expect(relay.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// `relay events publish` with JSON nested too deep, or a number beyond a double: a clear error and exit 1,
    /// not a crash, and nothing published.
    // (50,000 levels: one argument of a command line holds at most 128 KiB.)
    @Test(arguments: [
        (
            String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000),
            "at most 512 levels of nested arrays and objects"
        ),
        ("{\"a\": 1e999}", "a number within a double's range"),
        (
            String(repeating: "[", count: 501) + String(repeating: "]", count: 501),
            "--json nests deeper than 500 levels"
        ),
    ])
    func eventsPublishRefusesJSONBeyondTheLimits(json: String, message: String) async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        let result = try await RelayProcess.run(
            ["events", "publish", "--dir", project.directory.path, "--trigger", "poison", "--json", json])
        #expect(!result.signalled, "\(result.stderr)")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        let published = try await project.database.read { db in
            try db.query("SELECT COUNT(*) FROM bus_messages WHERE topic = 'relay.events'").first?[0].int ?? -1
        }
        #expect(published == 0)
    }
}
