import Foundation
import Logging
import RelayCore
import RelaySDK
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// A worker hands its results to its sink as values (`SinkMessage.result`): a dispatcher of the same process decides
/// them without writing and reading their JSON, and on the bus they are the messages those values write.
@Suite struct SinkMessageTests {
    static let route = JobRoute(
        jobID: "run/a/1", runID: "run", stepID: "a", attempt: 1, workflow: "sink", timeoutMilliseconds: 60_000)

    /// What a worker of `ptest` hands its sink for `jobs`, published on an embedded bus, once it has handed `count`.
    /// (`cancellable`: the sink fails when the task that commits is cancelled, as a commit that sleeps would.)
    static func handed(
        _ jobs: [BusMessage], count: Int, catalog: PluginCatalog? = nil, cancellable: Bool = false
    ) async throws -> [SinkMessage] {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = try EmbeddedBus(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path),
            pollInterval: .milliseconds(20))
        let handed = Mutex<[SinkMessage]>([])
        let worker = Worker(
            bus: bus, catalog: try catalog ?? PluginCatalog(native: ["ptest": try PipelineTestPlugin.plugin()]),
            connections: ConnectionStore(), plugins: ["ptest"], concurrency: 1,
            results: MessageSink { messages, inputs in
                if cancellable { try Task.checkCancellation() }
                handed.withLock { $0 += messages }
                try await bus.publish([], acknowledging: inputs)
            })
        let running = Task { try await worker.run() }
        try await bus.publish(jobs)
        #expect(await waitFor { handed.withLock { $0.count } == count })
        running.cancel()
        _ = await running.result
        return handed.withLock { $0 }
    }

    static func job(_ action: String, input: JSONValue, route: JobRoute = route) -> BusMessage {
        let start = StepStart(step: .action(action), input: input, meta: route.meta)
        return BusMessage(topic: Topics.jobs("ptest"), key: "run", json: start.message.json)
    }

    /// A job is run by the plugin its topic names (found by topic); a topic the worker subscribes to whose plugin is
    /// not installed gives the step a failure that says so.
    @Test func aJobRunsThePluginItsTopicNamesAndAMissingOneIsAFailure() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = try EmbeddedBus(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path))
        let worker = Worker(
            bus: bus, catalog: PluginCatalog(native: ["ptest": try PipelineTestPlugin.plugin()]),
            connections: ConnectionStore(), plugins: ["ptest", "absent"])
        func result(on topic: String) async -> StepEvent? {
            var job = Self.job("echo", input: ["text": "hi"])
            job.topic = topic
            let delivery = Delivery(message: job, offset: 1, group: Worker.group(of: "x"))
            guard case .result(let event, _, _) = await worker.run(delivery, in: StepTaskHandle()) else { return nil }
            return event
        }
        #expect(await result(on: Topics.jobs("ptest"))?.output == ["text": "hi"])
        let missing = await result(on: Topics.jobs("absent"))
        #expect(missing?.status == .error)
        #expect(
            missing?.error?.contains("no plugin named absent is installed") == true, "\(String(describing: missing))")
    }

    @Test func theWorkerHandsOverItsResultAsValues() async throws {
        let route = Self.route
        let messages = try await Self.handed(
            [
                Self.job("echo", input: ["text": "hi"]),
                BusMessage(topic: Topics.jobs("ptest"), key: "run", value: Array("not json".utf8)),
            ], count: 2)
        guard case .result(let event, let handedRoute, let key) = messages.first else {
            Issue.record("expected a result first, found \(messages)")
            return
        }
        #expect(event.output == ["text": "hi"] && key == "run")
        #expect(handedRoute.jobID == route.jobID && handedRoute.startedAt != nil && handedRoute.finishedAt != nil)
        #expect(event.meta == handedRoute.meta)
        // A job that is not one is dead-lettered as a message.
        guard case .message(let deadLetter) = messages.last else {
            Issue.record("expected a dead letter, found \(messages)")
            return
        }
        #expect(deadLetter.topic == Topics.dlq)
    }

    /// An in-process plugin runs in the worker's task for its job, and its deadline cancels that task
    /// (`StepTaskHandle`): the timed-out step's result is still committed, from a task the cancellation does not reach.
    @Test func aStepStoppedByItsDeadlineIsCommittedOutsideItsCancelledTask() async throws {
        var route = Self.route
        route.timeoutMilliseconds = 200
        let messages = try await Self.handed(
            [Self.job("hang", input: ["seconds": 900], route: route)], count: 1, cancellable: true)
        guard case .result(let event, let handedRoute, _) = messages.first else {
            Issue.record("expected the step's result, found \(messages)")
            return
        }
        // (As its message reads back: the error says it, the kind is not carried.)
        #expect(event.status == .error, "\(event)")
        #expect(event.error?.contains("did not finish within its timeout") == true, "\(event)")
        #expect(handedRoute.jobID == route.jobID)
    }

    /// A plugin's reply whose `state` no JSON message can carry fails its step, as one whose output cannot: on the bus
    /// the result could not be read, and its step would wait for its deadline.
    @Test func aStateThatCannotBePassedOnFailsTheStep() async throws {
        let plugin = try PipelineTestPlugin.plugin()
        let envelope =
            #"{"version": "v1", "type": "action_event", "body": {"status": "ok", "output": {"text": "x"}, "#
            + #""state": {"cursor": NaN}, "log": ""}}"#
        let catalog = PluginCatalog(entries: [
            "ptest": PluginCatalog.Entry(
                spec: plugin.spec, schemas: plugin.schemas,
                executor: ProcessPluginRunner(plugin: TestPlugins.shell("cat >/dev/null; echo '\(envelope)'")))
        ])
        let handed = try await Self.handed([Self.job("echo", input: ["text": "x"])], count: 1, catalog: catalog)
        guard case .result(let event, _, _) = handed.first else {
            Issue.record("expected a result, found \(handed)")
            return
        }
        #expect(event.status == .error)
        #expect(event.error?.contains("cannot be passed on: state.cursor is NaN") == true, "\(event.error ?? "")")
    }

    @Test func aResultOnTheBusIsTheMessageItsValuesWrite() throws {
        var route = JobRoute(
            jobID: "r/a/1", runID: "r", stepID: "a", attempt: 1, workflow: "sink", timeoutMilliseconds: 1000,
            startedAt: 1_700_000_000.25)
        route.finishedAt = 1_700_000_000.5
        let event = StepEvent.success(["text": "ok", "n": 1.5], log: "a log", meta: route.meta)
        let message = SinkMessage.result(event, route, key: "r").busMessage
        #expect(message.topic == Topics.results && message.key == "r")
        let (read, readRoute) = try Dispatcher.routedResult(message.value)
        #expect(read == event && readRoute == route)
    }

    @Test func aFailedJobsResultIsHandedOverAsItsMessageWouldReadBack() async throws {
        let route = Self.route
        let handed = try await Self.handed([Self.job("fail", input: ["why": "no"])], count: 1)
        guard case .result(let event, _, _) = handed.first else {
            Issue.record("expected a result")
            return
        }
        // The plugin host's failure carries how it failed (`errorKind`), which its message does not.
        #expect(event.status == .error && event.errorKind == nil && event.output == nil)
        let read = try Dispatcher.routedResult(SinkMessage.result(event, route, key: "run").busMessage.value).0
        #expect(event == read)
    }
}
