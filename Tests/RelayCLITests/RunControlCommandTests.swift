import Foundation
import RelayCore
import RelayEngine
import RelaySpec
import RelayStore
import RelayTransport
import Testing

/// `relay runs cancel|resume|show` as processes against a `relay up` process: the commands an operator types while
/// a run is held open by a step the test controls.
@Suite(.serialized) struct RunControlCommandTests {
    /// An external plugin whose one action waits until the file `gate` exists (the test creates it): a step held
    /// open for as long as the test likes, so that nothing depends on timing. It gives up when the project is
    /// removed, so that a failed test leaves nothing behind. Plugins get no environment (no PATH), hence the
    /// absolute path of `sleep`.
    static func gateScript(gate: URL) -> String {
        """
        #!/bin/sh
        cat > /dev/null
        while [ ! -e '\(gate.path)' ]; do
          [ -d '\(gate.deletingLastPathComponent().path)' ] || exit 1
          /bin/sleep 0.05
        done
        printf '{"version":"v1","type":"action_event","body":{"status":"ok","output":{"opened":true}}}\\n'
        """
    }

    static let gateSpec = """
        plugin_spec_version: v2
        extension: plugin
        products: [insightconnect]
        name: gate
        title: Gate
        description: Waits until a file exists
        version: 1.0.0
        vendor: relay
        support: relay
        status: []
        resources: {}
        tags: []
        hub_tags: {use_cases: [data_utility], keywords: [test], features: []}
        actions:
          wait:
            title: Wait
            description: Wait until the gate file exists
            input:
              note: {title: Note, description: Why it waits, type: string, required: false}
            output:
              opened: {title: Opened, description: Whether the gate opened, type: boolean, required: true}
        """

    static let workflow = """
        name: held
        trigger: {plugin: webhook, trigger: webhook, input: {path: held}}
        steps:
          - {id: wait, plugin: gate, action: wait, timeout: 10m, input: {note: "held by the test"}}
          - {id: after, plugin: base64, action: encode, input: {content: "opened {{ steps.wait.output.opened }}"}}
        """

    /// No broker from the environment: the commands must go to the project's embedded bus.
    static let environment = ["RELAY_BROKERS": "", "RELAY_DIR": ""]

    struct Project {
        let directory: URL
        let gate: URL
        let store: SQLRunStore

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "relay-control-\(UUID().uuidString)")
            for folder in ["workflows", "plugins", "gate"] {
                try FileManager.default.createDirectory(
                    at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            gate = directory.appendingPathComponent("gate/open")
            let plugin = directory.appendingPathComponent("gate")
            let script = plugin.appendingPathComponent("wait.sh")
            try RunControlCommandTests.gateScript(gate: gate).write(to: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
            try RunControlCommandTests.gateSpec.write(
                to: plugin.appendingPathComponent("plugin.spec.yaml"), atomically: true, encoding: .utf8)
            try "spec: \(plugin.path)/plugin.spec.yaml\ncommand: [/bin/sh, \(script.path)]\n".write(
                to: directory.appendingPathComponent("plugins/gate.yaml"), atomically: true, encoding: .utf8)
            try RunControlCommandTests.workflow.write(
                to: directory.appendingPathComponent("workflows/held.yaml"), atomically: true, encoding: .utf8)
            let database = try SQLiteDatabase(path: ProjectLayout(root: directory.path).database)
            store = try SQLRunStore(bus: try EmbeddedBus(database: database))
        }

        func relay(_ arguments: [String]) async throws -> RelayProcess.Result {
            try await RelayProcess.run(
                arguments + ["--dir", directory.path], environment: RunControlCommandTests.environment)
        }
    }

    static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    /// `relay up --port 0` with stderr in a file, once it serves (the events come through `relay events publish`).
    func startRelay(_ project: Project) async throws -> (Process, URL) {
        let log = project.directory.appendingPathComponent("relay.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", project.directory.path, "--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let ready = await waitFor {
            Self.text(log).contains("http://127.0.0.1:") || !process.isRunning
        }
        try #require(ready && process.isRunning, "relay up did not start: \(Self.text(log))")
        return (process, log)
    }

    @Test func cancelThenResumeAHeldRunFromTheCommandLine() async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        let (relay, log) = try await startRelay(project)
        defer { if relay.isRunning { relay.terminate() } }
        let published = try await project.relay(["events", "publish", "--trigger", "held", "--json", "{}"])
        #expect(published.status == 0, "\(published.stderr)")

        // The run is running, its first step held open by the gate.
        var runID = ""
        let held = await waitFor {
            guard let run = try? await project.store.runs(limit: 10).first else { return !relay.isRunning }
            runID = run.id
            return (try? await project.store.run(id: run.id))?.steps.contains {
                $0.stepID == "wait" && $0.status == .running
            } == true
        }
        try #require(held && relay.isRunning, "the held step never ran: \(Self.text(log))")

        // `--wait 90`: how long the command waits for the dispatcher to handle the request (it returns as soon as it
        // has); generous for a loaded machine.
        let cancel = try await project.relay(["runs", "cancel", runID, "--reason", "analyst closed it", "--wait", "90"])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        #expect(cancel.stdout.contains("requested cancel of run \(runID)"), "\(cancel.stdout)")
        #expect(
            cancel.stdout.contains("run \(runID) is cancelled: cancelled: analyst closed it"), "\(cancel.stdout)")
        #expect(try await project.store.run(id: runID)?.summary.status == .cancelled)

        // Only a running run can be cancelled: the second request is refused before anything is sent.
        let again = try await project.relay(["runs", "cancel", runID])
        #expect(!again.signalled)
        #expect(again.status != 0)
        #expect(
            again.stderr.contains("run \(runID) is cancelled: only a running run can be cancelled"),
            "\(again.stderr)")

        // Resumed while the held step is still in flight: the run is running again and waits for it.
        let resume = try await project.relay(["runs", "resume", runID, "--wait", "90"])
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect(resume.stdout.contains("requested resume of run \(runID)"), "\(resume.stdout)")
        #expect(resume.stdout.contains("run \(runID) is running"), "\(resume.stdout)")

        // The gate opens: the held step's result is taken and the step after it runs; the run succeeds.
        FileManager.default.createFile(atPath: project.gate.path, contents: Data())
        #expect(
            await waitFor {
                (try? await project.store.run(id: runID))?.summary.status.isFinished == true || !relay.isRunning
            })
        let run = try #require(try await project.store.run(id: runID))
        #expect(run.summary.status == .succeeded, "\(run.summary)")
        #expect(
            run.steps.map { "\($0.stepID)#\($0.attempt):\($0.status.rawValue)" } == [
                "wait#1:succeeded", "after#1:succeeded",
            ])
        #expect(run.steps.last?.output == ["data": .string(Data("opened true".utf8).base64EncodedString())])

        // `relay runs show`: the version the run started with, the hash of the workflow file.
        let workflow = try WorkflowDecoder.load(
            path: project.directory.appendingPathComponent("workflows/held.yaml").path)
        let version = WorkflowVersion(workflow).shortHash
        let show = try await project.relay(["runs", "show", runID])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("run \(runID)  held  succeeded"), "\(show.stdout)")
        #expect(
            show.stdout.contains("  version: \(version) (sha-256 of the workflow file it started with)"),
            "\(show.stdout)")

        #expect(relay.isRunning)
        relay.terminate()
        relay.waitUntilExit()
        #expect(relay.terminationStatus == 0, "SIGTERM drains and exits 0: \(Self.text(log))")
    }

    /// `relay runs answer`: refused for an option the decision does not offer and for a step that does not wait;
    /// an answer the dispatcher takes picks the branch.
    @Test func answerADecisionFromTheCommandLine() async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        try """
        name: approve
        trigger: {plugin: webhook, trigger: webhook, input: {path: approve}}
        steps:
          - {id: ask, decision: {question: "Contain {{ trigger.json.host }}?", options: [Contain, Ignore]}}
          - {id: contain, plugin: base64, action: encode, needs: [ask], when: steps.ask.output.option == Contain,
             input: {content: "contained by {{ steps.ask.output.answered_by }}"}}
          - {id: ignore, plugin: base64, action: encode, needs: [ask], when: steps.ask.output.option == Ignore,
             input: {content: ignored}}
        """.write(
            to: project.directory.appendingPathComponent("workflows/approve.yaml"), atomically: true, encoding: .utf8)
        let (relay, log) = try await startRelay(project)
        defer { if relay.isRunning { relay.terminate() } }
        let published = try await project.relay([
            "events", "publish", "--trigger", "approve", "--json", #"{"json": {"host": "laptop-7"}}"#,
        ])
        #expect(published.status == 0, "\(published.stderr)")
        var runID = ""
        let waiting = await waitFor {
            guard let run = try? await project.store.runs(limit: 10).first else { return !relay.isRunning }
            runID = run.id
            return (try? await project.store.run(id: run.id))?.steps.contains {
                $0.stepID == "ask" && $0.status == .running
            } == true
        }
        try #require(waiting && relay.isRunning, "the decision never waited: \(Self.text(log))")
        let show = try await project.relay(["runs", "show", runID, "--json"])
        #expect(show.stdout.contains("Contain laptop-7?"), "\(show.stdout)")

        let wrong = try await project.relay(["runs", "answer", runID, "ask", "Reboot"])
        #expect(wrong.status != 0)
        #expect(
            wrong.stderr.contains(
                "run \(runID) is running: \"Reboot\" is not an option of step ask; its options are "
                    + "\"Contain\", \"Ignore\""
            ),
            "\(wrong.stderr)")
        let notWaiting = try await project.relay(["runs", "answer", runID, "contain", "Contain"])
        #expect(notWaiting.status != 0)
        #expect(notWaiting.stderr.contains("step contain has not been reached"), "\(notWaiting.stderr)")

        let answer = try await project.relay([
            "runs", "answer", runID, "ask", "Contain", "--by", "alice", "--wait", "90",
        ])
        #expect(answer.status == 0, "\(answer.stderr)")
        #expect(answer.stdout.contains("requested answer of run \(runID)"), "\(answer.stdout)")
        #expect(
            await waitFor {
                (try? await project.store.run(id: runID))?.summary.status.isFinished == true || !relay.isRunning
            })
        let run = try #require(try await project.store.run(id: runID))
        #expect(run.summary.status == .succeeded, "\(run.summary)")
        #expect(run.steps.first { $0.stepID == "ask" }?.output?["answered_by"] == "alice")
        #expect(
            run.steps.first { $0.stepID == "contain" }?.output
                == ["data": .string(Data("contained by alice".utf8).base64EncodedString())])
        #expect(run.steps.first { $0.stepID == "ignore" }?.status == .skipped)
        relay.terminate()
        relay.waitUntilExit()
    }

    @Test func cancelAndResumeOfAnUnknownRunSayNoSuchRun() async throws {
        let project = try Project()
        defer { try? FileManager.default.removeItem(at: project.directory) }
        for command in ["cancel", "resume"] {
            let result = try await project.relay(["runs", command, "run-nope"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("no run run-nope in "), "\(result.stderr)")
        }
    }
}
