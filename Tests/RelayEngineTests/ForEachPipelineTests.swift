import Foundation
import RelayCore
import RelayPlugins
import RelaySDK
import RelayStore
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// A plugin whose jobs record how many of them run at once, per tag (tests run in parallel). A job holds until as
/// many jobs as the test expects at most run beside it, or every job of the tag has started: so the limit is
/// reached whenever it can be, whatever the timing, and never passed unless the dispatcher lets it.
enum HoldPlugin {
    struct Count {
        var running = 0
        var mostAtOnce = 0
        var started = 0
    }

    static let counts = Mutex([String: Count]())

    static let spec = """
        name: hold
        title: Hold
        description: Holds jobs until enough run at once
        version: 1.0.0
        vendor: rapid7
        actions:
          hold:
            input:
              tag: {type: string, required: true}
              n: {type: integer, required: true}
              at_once: {type: integer, required: true}
              total: {type: integer, required: true}
            output:
              n: {type: integer, required: true}
        """

    struct Hold: PluginAction {
        static let name = "hold"
        struct Input: Decodable, Sendable {
            var tag: String
            var n: Int
            var atOnce: Int
            var total: Int

            enum CodingKeys: String, CodingKey {
                case tag, n, total
                case atOnce = "at_once"
            }
        }
        struct Output: Encodable, Sendable { var n: Int }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
            HoldPlugin.counts.withLock {
                $0[input.tag, default: Count()].running += 1
                $0[input.tag]!.started += 1
                $0[input.tag]!.mostAtOnce = max($0[input.tag]!.mostAtOnce, $0[input.tag]!.running)
            }
            _ = await waitFor {
                HoldPlugin.counts.withLock {
                    let count = $0[input.tag] ?? Count()
                    return count.running >= input.atOnce || count.started >= input.total
                }
            }
            HoldPlugin.counts.withLock { $0[input.tag]!.running -= 1 }
            return Output(n: input.n)
        }
    }

    static func entry() throws -> PluginCatalog.Entry {
        let plugin = try Plugin(specYAML: spec, connection: NoConnection.self, actions: [.init(Hold())])
        return PluginCatalog.Entry(
            spec: plugin.spec, schemas: plugin.schemas, executor: PluginHost(plugin: plugin, masksSecrets: false))
    }
}

/// `for_each` on the embedded bus: the step runs once per item, at most `concurrency` at a time, and its output is
/// the items' outputs in item order.
@Suite struct ForEachPipelineTests {
    static let manual = PipelineTests.manual

    static func step(_ run: JSONValue, _ id: String) -> JSONValue? {
        run["steps"]?.arrayValue?.last { $0["step"]?.stringValue == id }
    }

    @Test func aHundredItemsWithConcurrencyFiveNeverRunMoreThanFiveAtOnceAndKeepTheirOrder() async throws {
        let tag = UUID().uuidString
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: fan
                \(Self.manual)steps:
                  - id: each
                    plugin: hold
                    action: hold
                    for_each: "{{ trigger.items }}"
                    concurrency: 5
                    input: {tag: "{{ trigger.tag }}", n: "{{ item }}", at_once: 5, total: 100}
                  - {id: after, plugin: ptest, action: echo, input: {value: {all: "{{ steps.each.output }}"}}}
                """
            ], catalog: ["hold": try HoldPlugin.entry()], workerConcurrency: 8)
        // Items in an order of their own, so that the output's order is the items', not the numbers'.
        let items = (0..<100).map { ($0 * 37) % 100 }
        try await pipeline.publish(["tag": .string(tag), "items": .array(items.map(JSONValue.int))])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        let count = HoldPlugin.counts.withLock { $0[tag] ?? HoldPlugin.Count() }
        #expect(run["status"] == "succeeded", "\(run["error"] ?? .null)")
        #expect(count.started == 100)
        #expect(count.mostAtOnce == 5, "at most 5 at once, and the limit was reached")
        let each = try #require(Self.step(run, "each"))
        #expect(each["output"]?.arrayValue?.map { $0["n"]?.intValue } == items.map { Optional($0) })
        #expect(each["items_done"] == 100)
        #expect(each["items_total"] == 100)
        #expect(each["items"]?.arrayValue?.allSatisfy { $0["status"] == "succeeded" && $0["attempt"] == 1 } == true)
        #expect(each["items"]?.arrayValue?[3]["input"]?["n"] == .int(items[3]))
        // The next step sees the array.
        #expect(Self.step(run, "after")?["output"]?["value"]?["all"]?.arrayValue?.count == 100)
    }

    static func failing(continueOnFailure: Bool) -> String {
        """
        name: failing
        \(Self.manual)steps:
          - id: each
            plugin: ptest
            action: flaky
            for_each: "{{ trigger.items }}"
            concurrency: 2
            continue_on_failure: \(continueOnFailure)
            input: {succeed_on: "{{ item }}"}
          - {id: after, plugin: ptest, action: echo, input: {value: {all: "{{ steps.each.output }}"}}}
        """
    }

    @Test func aFailingItemFailsTheStepAndTheRun() async throws {
        let pipeline = try TestPipeline(workflows: [Self.failing(continueOnFailure: false)])
        // Item 2 would succeed only on its 9th attempt; the step has one.
        try await pipeline.publish(["items": [1, 1, 9, 1, 1]])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "failed")
        #expect(
            run["error"]?.stringValue?.hasPrefix("step each failed: item 2 failed: ") == true
                && run["error"]?.stringValue?.contains("Attempt 1 fails on purpose.") == true,
            "\(run["error"] ?? .null)")
        let each = try #require(Self.step(run, "each"))
        #expect(each["status"] == "failed")
        #expect(each["items"]?.arrayValue?[2]["status"] == "failed")
        #expect(Self.step(run, "after") == nil, "nothing after a failed step")
    }

    @Test func withContinueOnFailureAFailedItemsSlotIsNullAndTheRunGoesOn() async throws {
        let pipeline = try TestPipeline(workflows: [Self.failing(continueOnFailure: true)])
        try await pipeline.publish(["items": [1, 1, 9, 1, 1]])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run["error"] ?? .null)")
        let each = try #require(Self.step(run, "each"))
        #expect(each["status"] == "succeeded")
        #expect(each["output"] == [["attempt": 1], ["attempt": 1], nil, ["attempt": 1], ["attempt": 1]])
        #expect(each["items"]?.arrayValue?[2]["status"] == "failed")
        #expect(each["items"]?.arrayValue?[2]["error"]?.stringValue?.contains("Attempt 1 fails on purpose.") == true)
        #expect(each["items_done"] == 5)
        #expect(Self.step(run, "after")?["output"]?["value"]?["all"]?.arrayValue?.count == 5)
    }

    @Test func retriesApplyPerItem() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: retrying
            \(Self.manual)steps:
              - id: each
                plugin: ptest
                action: flaky
                for_each: "{{ trigger.items }}"
                retry: {attempts: 3, backoff: 10ms}
                input: {succeed_on: "{{ item }}"}
            """
        ])
        try await pipeline.publish(["items": [1, 3, 2, 1]])
        let shown = try #require(try await pipeline.finishedRuns(1).first)
        let id = try #require(shown["id"]?.stringValue)
        let run = try #require(try await pipeline.store.run(id: id))
        await pipeline.stop()
        #expect(run.summary.status == .succeeded, "\(run.summary.error ?? "")")
        #expect(
            Self.step(shown, "each")?["output"] == [["attempt": 1], ["attempt": 3], ["attempt": 2], ["attempt": 1]])
        // Every attempt of every item is kept; the step itself ran once.
        #expect(
            run.items.map { "\($0.index)#\($0.attempt):\($0.status.rawValue)" } == [
                "0#1:succeeded", "1#1:failed", "1#2:failed", "1#3:succeeded", "2#1:failed", "2#2:succeeded",
                "3#1:succeeded",
            ])
        #expect(run.steps.map(\.stepID) == ["each"])
    }

    @Test func anEmptyArrayGivesAnEmptyOutputAndANonArrayFailsSayingWhatItRenderedTo() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: edges
            \(Self.manual)steps:
              - {id: each, plugin: ptest, action: echo, for_each: "{{ trigger.items }}", input: {number: "{{ index }}"}}
              - {id: after, plugin: ptest, action: echo, input: {value: {all: "{{ steps.each.output }}"}}}
            """
        ])
        try await pipeline.publish(["items": []])
        try await pipeline.publish(["items": "not a list"])
        let runs = try await pipeline.finishedRuns(2)
        await pipeline.stop()
        let empty = try #require(runs.first { $0["trigger_event"]?["items"] == [] })
        #expect(empty["status"] == "succeeded", "\(empty["error"] ?? .null)")
        #expect(Self.step(empty, "each")?["output"] == [])
        #expect(Self.step(empty, "after")?["output"]?["value"]?["all"] == [])
        let wrong = try #require(runs.first { $0["trigger_event"]?["items"] == "not a list" })
        #expect(wrong["status"] == "failed")
        #expect(
            wrong["error"]?.stringValue
                == "step each failed: for_each {{ trigger.items }} rendered to the string \"not a list\", "
                + "expected an array"
        )
        #expect(Self.step(wrong, "each")?["status"] == "failed")
    }
}
