import Foundation
import RelayCore
import RelayPlugins
import RelaySDK
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A plugin for pipeline tests: echo, an action that fails until a given attempt, one that hangs, one that fails.
enum PipelineTestPlugin {
    static let spec = """
        name: ptest
        title: Pipeline Test
        description: Test actions
        version: 1.0.0
        vendor: rapid7
        actions:
          echo:
            input:
              value: {type: object, required: false}
              text: {type: string, required: false}
              number: {type: integer, required: false}
            output:
              value: {type: object, required: false}
              text: {type: string, required: false}
              number: {type: integer, required: false}
          flaky:
            input:
              succeed_on: {type: integer, required: true}
            output:
              attempt: {type: integer, required: true}
          hang:
            input:
              seconds: {type: integer, required: true}
            output:
              done: {type: boolean, required: true}
          fail:
            input:
              why: {type: string, required: false}
            output:
              never: {type: string, required: false}
        """

    struct Echo: PluginAction {
        static let name = "echo"
        struct Input: Codable, Sendable {
            var value: JSONValue?
            var text: String?
            var number: Int?
        }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Input { input }
    }

    struct Flaky: PluginAction {
        static let name = "flaky"
        struct Input: Decodable, Sendable {
            var succeedOn: Int

            enum CodingKeys: String, CodingKey {
                case succeedOn = "succeed_on"
            }
        }
        struct Output: Encodable, Sendable { var attempt: Int }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
            let attempt = context.meta["attempt"]?.intValue ?? 1
            guard attempt >= input.succeedOn else {
                throw PluginError(cause: "Attempt \(attempt) fails on purpose.", assistance: "Retry.")
            }
            return Output(attempt: attempt)
        }
    }

    struct Hang: PluginAction {
        static let name = "hang"
        struct Input: Decodable, Sendable { var seconds: Int }
        struct Output: Encodable, Sendable { var done: Bool }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
            try await Task.sleep(for: .seconds(input.seconds))
            return Output(done: true)
        }
    }

    struct Fail: PluginAction {
        static let name = "fail"
        struct Input: Decodable, Sendable { var why: String? }
        struct Output: Encodable, Sendable { var never: String? }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
            throw PluginError(cause: input.why ?? "It fails.", assistance: "Nothing to do.")
        }
    }

    static func plugin() throws -> Plugin {
        try Plugin(
            specYAML: spec, connection: NoConnection.self,
            actions: [.init(Echo()), .init(Flaky()), .init(Hang()), .init(Fail())])
    }
}

/// A dispatcher and a worker on a fresh SQLite file; events are published by the test.
final class TestPipeline: Sendable {
    let directory: URL
    let bus: EmbeddedBus
    let store: SQLRunStore
    let workflows: [Workflow]
    /// The current workflows the dispatcher starts runs of (replace it to edit or delete one).
    let registry: WorkflowRegistry
    let metrics = PipelineMetrics()
    let tasks: [Task<Void, Never>]

    init(
        workflows yaml: [String], catalog extra: [String: PluginCatalog.Entry] = [:],
        connections: ConnectionStore = ConnectionStore(), workerConcurrency: Int = 4,
        deadlineGrace: Duration = .seconds(30), workerPlugins: [String]? = nil, decideAhead: Bool = true
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-pipeline-\(UUID().uuidString)")
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(50))
        store = try SQLRunStore(bus: bus)
        var plugins = try NativePlugins.all()
        plugins["ptest"] = try PipelineTestPlugin.plugin()
        var catalog = PluginCatalog(native: plugins)
        for (name, entry) in extra { catalog.entries[name] = entry }
        workflows = try yaml.enumerated().map {
            try WorkflowDecoder.decode(yaml: $0.element, file: "workflow\($0.offset).yaml")
        }
        for workflow in workflows {
            let problems = WorkflowValidator(catalog: catalog, connections: connections).problems(workflow)
            guard problems.isEmpty else { throw RelayError(.invalidSpec, problems.joined(separator: "\n")) }
        }
        var assembly = PipelineAssembly(
            workflows: workflows, catalog: catalog, connections: connections, transport: bus, metrics: metrics)
        assembly.dispatcherConfiguration.deadlineGrace = deadlineGrace
        assembly.dispatcherConfiguration.decideAhead = decideAhead
        // (Every result, batched or alone, so that tests see results decided ahead whatever their timing.)
        assembly.dispatcherConfiguration.decideAheadMinimum = 1
        assembly.dispatcherConfiguration.unboundEventDelay = .milliseconds(200)
        registry = assembly.registry
        let services = assembly.services(
            dispatcher: store, worker: .init(plugins: workerPlugins, concurrency: workerConcurrency))
        tasks = [Task { try? await services.run() }]
    }

    func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Publishes a worker's result for attempt `attempt` of `step` of a run, as a worker would (for jobs no worker
    /// takes here); returns the job's route.
    @discardableResult
    func publishResult(
        _ result: StepEvent, runID: String, step: String, attempt: Int = 1, workflow: String,
        timeoutMilliseconds: Int = 3_600_000, startedAt: Double? = nil, finishedAt: Double? = nil
    ) async throws -> JobRoute {
        var route = JobRoute(
            jobID: JobRoute.jobID(runID: runID, stepID: step, attempt: attempt), runID: runID, stepID: step,
            attempt: attempt, workflow: workflow, timeoutMilliseconds: timeoutMilliseconds, startedAt: startedAt)
        route.finishedAt = finishedAt
        var result = result
        result.meta = route.meta
        try await bus.publish([
            BusMessage(topic: Topics.results, key: runID, json: result.message(kind: .actionEvent).json)
        ])
        return route
    }

    /// Publishes an event of the first workflow's trigger.
    @discardableResult
    func publish(_ output: JSONValue, workflow: Int = 0, eventID: String = UUID().uuidString) async throws -> String {
        let instance = workflows[workflow].trigger?.instanceID ?? ""
        try await bus.publish([TriggerEvent(id: eventID, instance: instance, output: output).message])
        return eventID
    }

    /// Sends a request about a run (cancel, resume) as `relay runs cancel|resume` does.
    func control(_ request: RunControl) async throws {
        try await bus.publish([request.message])
    }

    /// Waits until `count` runs of `workflow` have ended; returns them as `relay runs show --json` shows them,
    /// oldest first.
    func finishedRuns(of workflow: String, _ count: Int = 1, seconds: Double = 300) async throws -> [JSONValue] {
        var ended: [RunSummary] = []
        let done = await waitFor(seconds: seconds) {
            ended =
                (try? await store.runs(limit: 10000).filter { $0.workflow == workflow && $0.status.isFinished })
                ?? []
            return ended.count >= count
        }
        guard done else {
            Issue.record("only \(ended.count) of \(count) runs of \(workflow) ended")
            return []
        }
        var shown: [JSONValue] = []
        for run in ended.reversed() { shown.append(try await store.run(id: run.id)?.json ?? .null) }
        return shown
    }

    /// Waits until the run of `workflow` (the first) exists and `condition` holds for it; returns it.
    func waitForRun(of workflow: String, _ condition: @escaping (RunDetail) -> Bool) async throws -> RunDetail? {
        var found: RunDetail?
        _ = await waitFor {
            guard let summary = try? await store.runs(limit: 10000).last(where: { $0.workflow == workflow }),
                let run = try? await store.run(id: summary.id), condition(run)
            else { return false }
            found = run
            return true
        }
        return found
    }

    /// A consumer group's committed position on a topic of the bus (0 before its first commit).
    func committed(group: String, topic: String) async throws -> Int64 {
        try await bus.database.read { db in
            try db.query("SELECT committed FROM bus_offsets WHERE grp = ? AND topic = ?", [.text(group), .text(topic)])
                .first?.first?.int ?? 0
        }
    }

    /// Waits until `count` runs have finished; returns them, oldest first.
    func finishedRuns(_ count: Int, seconds: Double = 300) async throws -> [JSONValue] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            let runs = try await store.runs(limit: 10000).filter { $0.status.isFinished }
            if runs.count >= count {
                var shown: [JSONValue] = []
                for run in runs.reversed() { shown.append(try await store.run(id: run.id)?.json ?? .null) }
                return shown
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let finished = try await store.runs(limit: 10000).filter { $0.status.isFinished }.count
        Issue.record("only \(finished) of \(count) runs finished")
        return []
    }
}

func steps(_ run: JSONValue) -> [(String, Int, String)] {
    (run["steps"]?.arrayValue ?? []).map {
        ($0["step"]?.stringValue ?? "", $0["attempt"]?.intValue ?? 0, $0["status"]?.stringValue ?? "")
    }
}

@Suite struct PipelineTests {
    static let manual = "trigger: {plugin: webhook, trigger: webhook, input: {path: test}}\n"

    @Test func aRunChainsStepsThroughTemplatesKeepingTypes() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: chain
            \(Self.manual)steps:
              - id: first
                plugin: ptest
                action: echo
                input: {value: "{{ trigger.json }}", number: "{{ trigger.json.n }}"}
              - id: second
                plugin: ptest
                action: echo
                input: {text: "n is {{ steps.first.output.number }}", value: "{{ steps.first.output.value }}"}
            """
        ])
        try await pipeline.publish(["json": ["n": 7, "tags": ["a"]]])
        let runs = try await pipeline.finishedRuns(1)
        await pipeline.stop()
        let run = try #require(runs.first)
        #expect(run["status"] == "succeeded")
        let output = run["steps"]?.arrayValue?.last?["output"]
        #expect(output?["text"] == "n is 7")
        #expect(output?["value"] == ["n": 7, "tags": ["a"]])
        #expect(run["steps"]?.arrayValue?.first?["input"]?["number"] == 7)
    }

    @Test func aFailingStepFailsTheRunUnlessItMayContinue() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: strict
            \(Self.manual)steps:
              - {id: a, plugin: ptest, action: fail, input: {why: Broken.}}
              - {id: b, plugin: ptest, action: echo, input: {text: never}}
            """,
            """
            name: lenient
            trigger: {plugin: webhook, trigger: webhook, input: {path: other}}
            steps:
              - {id: a, plugin: ptest, action: fail, input: {why: Broken.}, continue_on_failure: true}
              - {id: b, plugin: ptest, action: echo, input: {text: "a was {{ steps.a.status }}"}}
            """,
        ])
        try await pipeline.publish([:], workflow: 0)
        try await pipeline.publish([:], workflow: 1)
        let runs = try await pipeline.finishedRuns(2)
        await pipeline.stop()
        let strict = try #require(runs.first { $0["workflow"] == "strict" })
        #expect(strict["status"] == "failed")
        #expect(steps(strict).map(\.0) == ["a"], "b never runs")
        #expect(strict["error"]?.stringValue?.contains("Broken.") == true)
        let lenient = try #require(runs.first { $0["workflow"] == "lenient" })
        #expect(lenient["status"] == "succeeded")
        #expect(steps(lenient).map(\.2) == ["failed", "succeeded"])
        #expect(lenient["steps"]?.arrayValue?.last?["output"]?["text"] == "a was failed")
    }

    @Test func aStepIsRetriedWithBackoffUntilItSucceeds() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: retry
            \(Self.manual)steps:
              - {id: flaky, plugin: ptest, action: flaky, input: {succeed_on: 3}, retry: {attempts: 3, backoff: 100ms}}
            """
        ])
        try await pipeline.publish([:])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded")
        #expect(steps(run).map { "\($0.1):\($0.2)" } == ["1:failed", "2:failed", "3:succeeded"])
        #expect(run["steps"]?.arrayValue?.last?["output"] == ["attempt": 3])
    }

    @Test func aHangingActionIsStoppedAtItsTimeout() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: hang
            \(Self.manual)steps:
              - {id: slow, plugin: ptest, action: hang, input: {seconds: 600}, timeout: 1s}
            """
        ])
        try await pipeline.publish([:])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "failed")
        #expect(
            run["steps"]?.arrayValue?.first?["error"]?.stringValue?.contains("did not finish within its timeout")
                == true)
    }

    @Test func aConditionSkipsAStep() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: branch
            \(Self.manual)steps:
              - {id: loud, plugin: ptest, action: echo, input: {text: LOUD}, when: 'trigger.mode == "loud"'}
              - {id: quiet, plugin: ptest, action: echo, input: {text: quiet}, when: 'trigger.mode != "loud"'}
            """
        ])
        try await pipeline.publish(["mode": "quiet"])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(steps(run).map { "\($0.0):\($0.2)" } == ["loud:skipped", "quiet:succeeded"])
    }

    /// Every step skipped as the run starts: the run ends, it does not wait for a result that will never come (it
    /// stayed `running` before the dispatcher finished runs on the event's path too).
    @Test func aRunWhoseStepsAreAllSkippedSucceeds() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: quiet
            \(Self.manual)steps:
              - {id: loud, plugin: ptest, action: echo, input: {text: LOUD}, when: 'trigger.mode == "loud"'}
            """
        ])
        try await pipeline.publish(["mode": "quiet"])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded")
        #expect(steps(run).map { "\($0.0):\($0.2)" } == ["loud:skipped"])
    }

    @Test func aRedeliveredEventStartsNoSecondRun() async throws {
        let pipeline = try TestPipeline(workflows: [
            "name: once\n\(Self.manual)steps:\n  - {id: a, plugin: ptest, action: echo, input: {text: x}}\n"
        ])
        try await pipeline.publish([:], eventID: "same-event")
        try await pipeline.publish([:], eventID: "same-event")
        _ = try await pipeline.finishedRuns(1)
        // The dispatcher commits its position on the events topic in the transaction that applies an event: once
        // the position covers the second copy, that copy has been handled and whatever it started is recorded.
        let second = try #require(try await pipeline.bus.fetch(topic: Topics.events, after: 0, limit: 10).last).offset
        let handled = await waitFor {
            (try? await pipeline.committed(group: "relay.dispatcher", topic: Topics.events)) ?? 0 >= second
        }
        #expect(handled, "the dispatcher handled the second copy")
        let runs = try await pipeline.store.runs(limit: 50)
        await pipeline.stop()
        #expect(runs.count == 1)
    }

    @Test func malformedMessagesGoToTheDeadLetterTopicAndThePipelineGoesOn() async throws {
        let pipeline = try TestPipeline(workflows: [
            "name: dlq\n\(Self.manual)steps:\n  - {id: a, plugin: ptest, action: echo, input: {text: x}}\n"
        ])
        try await pipeline.bus.publish([
            BusMessage(topic: Topics.events, key: "x", value: Array("not json".utf8)),
            TriggerEvent(id: "e1", instance: "nobody").message,
            BusMessage(topic: Topics.results, key: "x", value: Array("{\"half\":".utf8)),
            BusMessage(topic: Topics.jobs("ptest"), key: "x", value: Array("garbage".utf8)),
        ])
        try await pipeline.publish([:])
        let runs = try await pipeline.finishedRuns(1)
        #expect(runs.first?["status"] == "succeeded")
        // The event of an instance no workflow is bound to is looked at again three times (a workflow may be on its
        // way through a reload), then dead-lettered.
        var dead: [Delivery] = []
        #expect(
            await waitFor {
                dead = (try? await pipeline.bus.fetch(topic: Topics.dlq, after: 0, limit: 10)) ?? []
                return dead.count >= 4
            })
        await pipeline.stop()
        #expect(dead.count == 4)
        let reasons = dead.compactMap { $0.message.headers["relay.dlq.reason"] }
        #expect(reasons.contains { $0.hasPrefix("not an event") })
        #expect(reasons.contains { $0 == "no workflow is bound to trigger instance nobody" })
        let unbound = dead.first { $0.message.headers["relay.dlq.reason"]?.hasPrefix("no workflow") == true }
        #expect(unbound?.message.headers["relay.unbound.tries"] == "3")
        #expect(reasons.contains { $0.hasPrefix("not a result") })
        #expect(reasons.contains { $0.hasPrefix("not a job") })
    }

    @Test(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason))
    func aStepRunsAnExternalPythonPlugin() async throws {
        let spec = try PluginSpec.load(
            path: TestPlugins.packageRoot.appendingPathComponent(
                "Tests/Fixtures/python/relay_test_plugin/plugin.spec.yaml"
            ).path)
        let entry = PluginCatalog.Entry(
            spec: spec, schemas: try SchemaGenerator(spec: spec).document(),
            executor: ProcessPluginRunner(plugin: TestPlugins.relayTest))
        let connections = ConnectionStore(connections: [
            .init(name: "py", plugin: "relay_test", parameters: TestPlugins.connection)
        ])
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: python
                \(Self.manual)steps:
                  - {id: py, plugin: relay_test, action: echo, connection: py,
                     input: {message: "from {{ trigger.who }}"}}
                  - {id: fail, plugin: relay_test, action: fail, connection: py,
                     input: {cause: Cause., assistance: Assistance.}, continue_on_failure: true}
                """
            ], catalog: ["relay_test": entry], connections: connections)
        try await pipeline.publish(["who": "Relay"])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        #expect(run["steps"]?.arrayValue?.first?["output"] == ["message": "from Relay"])
        #expect(run["steps"]?.arrayValue?.last?["exception"]?["cause"] == "Cause.")
    }
}
