import Foundation
import RelayCore
import RelayKafka
import RelayPlugins
import RelaySDK
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// Sub-workflows, cancel and resume on the test broker (issue #13): the dispatcher and a worker on `KafkaTransport`
/// in this process, the run store in SQLite with its outbox publishing to Kafka (as `relay dispatcher` and `relay
/// worker` run them); child runs' ends travel on `relay.results` and run requests on `relay.control` through the
/// broker. The same behaviours on the embedded bus: `SubWorkflowPipelineTests`, `RunControlPipelineTests`.
@Suite(
    .serialized,
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaSubWorkflowTests {
    /// Native plugins, `ptest` (echo, flaky) and a gate whose step says when a worker holds it.
    static func catalog() throws -> PluginCatalog {
        var plugins = try NativePlugins.all()
        plugins["ptest"] = try PipelineTestPlugin.plugin()
        var catalog = PluginCatalog(native: plugins)
        catalog.entries["gate"] = try SignallingGatePlugin.entry()
        return catalog
    }

    /// The workflows, each and as a set checked as `relay up` checks them.
    static func workflows(_ yaml: [String], catalog: PluginCatalog) throws -> [Workflow] {
        let workflows = try yaml.enumerated().map {
            try WorkflowDecoder.decode(yaml: $0.element, file: "workflow\($0.offset).yaml")
        }
        let validator = WorkflowValidator(catalog: catalog, connections: ConnectionStore())
        #expect(workflows.flatMap { validator.problems($0) } + WorkflowValidator.problems(in: workflows) == [])
        return workflows
    }

    static func services(_ assembly: PipelineAssembly, _ store: any RunStore) -> PipelineServices {
        assembly.services(dispatcher: store, worker: .init(plugins: ["ptest", "gate"], concurrency: 4))
    }

    static func attempts(_ run: RunDetail) -> [String] {
        run.steps.map { "\($0.stepID)#\($0.attempt):\($0.status.rawValue)" }
    }

    @Test(.timeLimit(.minutes(4))) func aForEachOverASubWorkflowGivesTheChildrensOutputsInItemOrder() async throws {
        let catalog = try Self.catalog()
        let workflows = try Self.workflows(
            [
                """
                name: kloop
                trigger: {plugin: webhook, trigger: webhook, input: {path: kloop}}
                steps:
                  - id: each
                    workflow: kdouble
                    for_each: "{{ trigger.xs }}"
                    concurrency: 2
                    input: {x: "{{ item }}"}
                """,
                """
                name: kdouble
                steps:
                  - {id: a, plugin: ptest, action: echo, input: {number: "{{ trigger.x }}"}}
                  - {id: b, plugin: ptest, action: echo, input: {text: "got {{ steps.a.output.number }}"}}
                output:
                  x: "{{ steps.a.output.number }}"
                  said: "{{ steps.b.output.text }}"
                """,
            ], catalog: catalog)
        let xs = [3, 1, 4, 1, 5]
        let (parent, children) = try await KafkaRunHarness.withPipeline(
            workflows, catalog: catalog, prefix: "subforeach", services: Self.services
        ) { pipeline in
            try await pipeline.publish(["xs": .array(xs.map(JSONValue.int))])
            let parent = await pipeline.finishedRuns(of: "kloop").first
            return (parent, await pipeline.finishedRuns(of: "kdouble", xs.count))
        }

        let run = try #require(parent, "the parent run ended")
        #expect(run.summary.status == .succeeded, "\(run.json)")
        let each = try #require(run.steps.first { $0.stepID == "each" })
        #expect(
            each.output == .array(xs.map { ["x": .int($0), "said": .string("got \($0)")] }),
            "the children's outputs, in item order")
        #expect(Self.attempts(run) == ["each#1:succeeded"])
        // One child run per item, each linked to the parent's step, each started with its item.
        #expect(children.count == xs.count)
        #expect(children.allSatisfy { $0.summary.status == .succeeded })
        #expect(children.allSatisfy { $0.summary.parentRunID == run.summary.id && $0.summary.parentStepID == "each" })
        let items = try #require(run.items(of: "each")?.latest)
        #expect(items.map(\.index) == Array(xs.indices))
        #expect(items.allSatisfy { $0.attempt == 1 && $0.status == .succeeded })
        let byID = Dictionary(uniqueKeysWithValues: children.map { ($0.summary.id, $0) })
        #expect(
            items.map { $0.childRunID.flatMap { byID[$0]?.triggerEvent } } == xs.map { ["x": .int($0)] },
            "item i's child ran item i")
        #expect(Set(run.children.map(\.id)) == Set(byID.keys))
        // concurrency: 2: the first two children start together, and never more than two run at once.
        let spans = children.map { ($0.summary.startedAt, $0.summary.finishedAt ?? .infinity) }
        let running = spans.map { start in spans.filter { $0.0 <= start.0 && start.0 < $0.1 }.count }
        #expect(running.max() == 2, "children running at each child's start: \(running)")
    }

    @Test(.timeLimit(.minutes(4))) func cancellingARunCancelsItsChildAndTheHeldStepFinishesStartingNothing()
        async throws
    {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-kgate-\(UUID().uuidString)")
        let held = gate.appendingPathExtension("held")
        defer {
            try? FileManager.default.removeItem(at: gate)
            try? FileManager.default.removeItem(at: held)
        }
        let catalog = try Self.catalog()
        let workflows = try Self.workflows(
            [
                """
                name: kparent
                trigger: {plugin: webhook, trigger: webhook, input: {path: kcancel}}
                steps:
                  - {id: sub, workflow: kheld}
                  - {id: after, plugin: ptest, action: echo, input: {text: never}}
                """,
                """
                name: kheld
                steps:
                  - {id: wait, plugin: gate, action: wait, input: {path: "\(gate.path)", started: "\(held.path)"}}
                  - {id: later, plugin: ptest, action: echo, input: {text: never}}
                """,
            ], catalog: catalog)
        let reason = "an operator said so"
        try await KafkaRunHarness.withPipeline(
            workflows, catalog: catalog, prefix: "subcancel", services: Self.services
        ) { pipeline in
            try await pipeline.publish([:])
            // A worker holds the child's first step; then the parent is cancelled through relay.control.
            #expect(await waitFor(seconds: 180) { FileManager.default.fileExists(atPath: held.path) })
            let child = try #require(await pipeline.waitForRun(of: "kheld") { _ in true })
            let parentID = try #require(child.summary.parentRunID)
            try await pipeline.control(RunControl(command: .cancel, runID: parentID, reason: reason))

            let parent = try #require(await pipeline.finishedRuns(of: "kparent").first)
            let cancelledChild = try #require(await pipeline.finishedRuns(of: "kheld").first)
            #expect(parent.summary.status == .cancelled)
            #expect(parent.summary.error == "cancelled: \(reason)")
            #expect(cancelledChild.summary.id == child.summary.id)
            #expect(cancelledChild.summary.status == .cancelled)
            #expect(cancelledChild.summary.error == "cancelled: its parent run \(parentID) cancelled")
            #expect(Self.attempts(cancelledChild) == ["wait#1:running"], "the held job is still in flight")

            // The job in flight finishes: its result is recorded and starts nothing (decided in the transaction that
            // records it). The parent's attempt ended with the parent (not finished), so the child's end, which
            // reaches it through relay.results, changes nothing either.
            FileManager.default.createFile(atPath: gate.path, contents: Data())
            let childAfter = try #require(
                await pipeline.waitForRun(of: "kheld") { $0.steps.first?.status.isFinished == true })
            let parentAfter = try #require(
                await pipeline.waitForRun(of: "kparent") { $0.steps.first?.status.isFinished == true })
            #expect(Self.attempts(childAfter) == ["wait#1:succeeded"])
            #expect(childAfter.steps.first?.output == ["opened": true])
            #expect(childAfter.summary.status == .cancelled)
            #expect(Self.attempts(parentAfter) == ["sub#1:failed"])
            #expect(parentAfter.steps.first?.error == "not finished: the run had ended")
            #expect(parentAfter.summary.status == .cancelled)
            #expect(try await pipeline.store.runCounts() == [.cancelled: 2])
        }
    }

    @Test(.timeLimit(.minutes(4))) func resumingAFailedRunRunsTheFailedStepAgainAndWhatFollows() async throws {
        let catalog = try Self.catalog()
        let workflows = try Self.workflows(
            [
                """
                name: kresume
                trigger: {plugin: webhook, trigger: webhook, input: {path: kresume}}
                steps:
                  - {id: first, plugin: ptest, action: echo, input: {text: once}}
                  - {id: flaky, plugin: ptest, action: flaky, input: {succeed_on: 2}}
                  - id: last
                    plugin: ptest
                    action: echo
                    input: {text: "flaky took {{ steps.flaky.output.attempt }}"}
                """
            ], catalog: catalog)
        try await KafkaRunHarness.withPipeline(
            workflows, catalog: catalog, prefix: "subresume", services: Self.services
        ) { pipeline in
            try await pipeline.publish([:])
            let failed = try #require(await pipeline.finishedRuns(of: "kresume").first)
            #expect(failed.summary.status == .failed)
            let error = failed.summary.error ?? ""
            #expect(error.hasPrefix("step flaky failed: ") && error.contains("Attempt 1 fails on purpose."), "\(error)")
            #expect(Self.attempts(failed) == ["first#1:succeeded", "flaky#1:failed"])

            try await pipeline.control(RunControl(command: .resume, runID: failed.summary.id))
            let done = try #require(await pipeline.waitForRun(of: "kresume") { $0.summary.status == .succeeded })
            #expect(done.summary.id == failed.summary.id, "the same run went on")
            #expect(
                Self.attempts(done) == [
                    "first#1:succeeded", "flaky#1:failed", "flaky#2:succeeded", "last#1:succeeded",
                ])
            #expect(done.steps.filter { $0.stepID == "first" }.count == 1, "a succeeded step never runs again")
            #expect(done.steps.first { $0.stepID == "flaky" && $0.attempt == 2 }?.output == ["attempt": 2])
            #expect(done.output == ["text": "flaky took 2"])
            #expect(done.summary.error == nil)
        }
    }
}

/// The gate of `GatePlugin` (a step held open until a file exists) that first creates the file `started`: the test
/// knows that a worker holds the step, not only that the dispatcher published its job (on the broker, a worker's
/// first group join takes seconds).
enum SignallingGatePlugin {
    static let spec = """
        name: gate
        title: Gate
        description: Says it runs, then waits for a file
        version: 1.0.0
        vendor: rapid7
        actions:
          wait:
            input:
              path: {type: string, required: true}
              started: {type: string, required: true}
            output:
              opened: {type: boolean, required: true}
        """

    struct Wait: PluginAction {
        static let name = "wait"
        struct Input: Decodable, Sendable {
            var path: String
            var started: String
        }
        struct Output: Encodable, Sendable { var opened: Bool }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
            FileManager.default.createFile(atPath: input.started, contents: Data())
            while !FileManager.default.fileExists(atPath: input.path) { try await Task.sleep(for: .milliseconds(20)) }
            return Output(opened: true)
        }
    }

    static func entry() throws -> PluginCatalog.Entry {
        let plugin = try Plugin(specYAML: spec, connection: NoConnection.self, actions: [.init(Wait())])
        return PluginCatalog.Entry(
            spec: plugin.spec, schemas: plugin.schemas, executor: PluginHost(plugin: plugin, masksSecrets: false))
    }
}
