import Foundation
import RelayCore
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// Results and events decided outside the transaction (`RunSpeculation`, `Dispatcher.Configuration.decideAhead`) make
/// the same runs as when decided inside it: the same workflows over the same events, once each way, record the same
/// steps, outputs, errors and ends.
@Suite struct DecidedAheadTests {
    /// Branches, conditions that skip, a failure that may continue, a failure that ends the run, a run output.
    static let workflow = """
        name: ahead
        \(PipelineTests.manual)steps:
          - {id: first, plugin: ptest, action: echo, input: {text: "{{ trigger.name }}", number: "{{ trigger.n }}"}}
          - {id: left, plugin: ptest, action: echo, needs: [first], when: steps.first.output.number > 2,
             input: {text: "left of {{ steps.first.output.text }}"}}
          - {id: right, plugin: ptest, action: echo, needs: [first], when: "steps.first.output.number <= 2",
             input: {text: "right of {{ steps.first.output.text }}"}}
          - {id: shaky, plugin: ptest, action: fail, needs: [left, right], continue_on_failure: true,
             input: {why: "{{ steps.first.output.text }}"}}
          - {id: joined, plugin: ptest, action: echo, needs: [left, right, shaky],
             input: {text: "{{ steps.left.status }}|{{ steps.right.status }}|{{ steps.shaky.status }}",
                     number: "{{ trigger.n }}"}}
          - {id: last, plugin: ptest, action: fail, when: steps.joined.output.number == 4, input: {why: four}}
        output:
          joined: "{{ steps.joined.output.text }}"
        """

    /// Each run as the store shows it, without ids and times: its status, error and output, and each attempt's
    /// step, attempt, status, output and error; sorted by the trigger's name.
    static func runs(decideAhead: Bool, workflow: String = workflow) async throws -> [String] {
        let pipeline = try TestPipeline(workflows: [workflow], decideAhead: decideAhead)
        for n in 0..<8 {
            try await pipeline.publish(
                ["name": .string("event \(n)"), "n": .int(n), "items": .array((0..<(n % 4 + 2)).map(JSONValue.int))])
        }
        let runs = try await pipeline.finishedRuns(8)
        await pipeline.stop()
        return runs.map { run in
            let steps = (run["steps"]?.arrayValue ?? []).map { step in
                ["step", "attempt", "status", "output", "error"].map { JSONWriter.compact.string(step[$0] ?? .null) }
                    .joined(separator: " ")
            }
            return (["status", "error", "output"].map { JSONWriter.compact.string(run[$0] ?? .null) } + steps)
                .joined(separator: "\n")
        }.sorted()
    }

    @Test func resultsDecidedAheadMakeTheSameRunsAsResultsDecidedInTheTransaction() async throws {
        let before = RunSpeculation.counts
        let ahead = try await Self.runs(decideAhead: true)
        // (Other suites' pipelines may decide ahead meanwhile: this one's count is at least its own.)
        let applied = RunSpeculation.counts.applied - before.applied
        let newRuns = RunSpeculation.counts.newRuns - before.newRuns
        let inside = try await Self.runs(decideAhead: false)
        #expect(ahead == inside)
        #expect(ahead.count == 8)
        // Both ways ran the branches, the skips and both failures.
        #expect(ahead.contains { $0.contains(#""left" 1 "succeeded""#) && $0.contains(#""right" 0 "skipped""#) })
        #expect(ahead.contains { $0.contains(#""right" 1 "succeeded""#) && $0.contains(#""left" 0 "skipped""#) })
        #expect(ahead.filter { $0.hasPrefix(#""failed""#) }.count == 1)
        #expect(ahead.filter { $0.hasPrefix(#""succeeded""#) }.count == 7)
        // Every result was decided ahead but the one that failed its run (which cancels the run's children, a read a
        // speculation leaves to the transaction): first, left or right, shaky, joined in each run, and last in one.
        // (Other suites' pipelines may decide ahead meanwhile: at least these.)
        #expect(applied >= 8 * 4)
        // And every run's start.
        #expect(newRuns >= 8)
    }

    /// `for_each` steps: items run two at a time after a first step, all at once from the start; items that fail,
    /// are retried once, and may continue; a step that gathers the items' outputs.
    static let items = """
        name: items
        \(PipelineTests.manual)steps:
          - {id: first, plugin: ptest, action: echo, input: {value: {list: "{{ trigger.items }}"}}}
          - {id: each, plugin: ptest, action: echo, needs: [first], for_each: "{{ steps.first.output.value.list }}",
             concurrency: 2, input: {text: "item {{ index }} of {{ trigger.name }}", number: "{{ item }}"}}
          - {id: shaky, plugin: ptest, action: fail, for_each: "{{ trigger.items }}", continue_on_failure: true,
             retry: {attempts: 2, backoff: 10ms}, input: {why: "{{ item }}"}}
          - {id: joined, plugin: ptest, action: echo, needs: [each, shaky],
             input: {value: {each: "{{ steps.each.output }}"}, text: "{{ steps.shaky.status }}"}}
        output:
          each: "{{ steps.joined.output.value.each }}"
        """

    @Test func itemsDecidedAheadMakeTheSameRunsAsItemsDecidedInTheTransaction() async throws {
        let before = RunSpeculation.counts
        let ahead = try await Self.runs(decideAhead: true, workflow: Self.items)
        let applied = RunSpeculation.counts.applied - before.applied
        let inside = try await Self.runs(decideAhead: false, workflow: Self.items)
        #expect(ahead == inside)
        #expect(ahead.count == 8)
        // Every run gathered its items' outputs in order, after its failing items were retried and let through.
        #expect(ahead.allSatisfy { $0.hasPrefix(#""succeeded""#) })
        #expect(ahead.contains { $0.contains(#"{"each":[{"text":"item 0 of event 3","number":0},"#) })
        #expect(ahead.contains { $0.contains(#""shaky" 1 "succeeded" [null,null,null,null,null]"#) })
        // The items' results but the failed ones (a retry is scheduled in the transaction) were decided ahead, and
        // the first steps' and the gathering steps' results: 2 + 3 + 4 + 5 items of `each` per 4 runs, and 16.
        // (Other suites' pipelines may decide ahead meanwhile: at least these.)
        #expect(applied >= 2 * (2 + 3 + 4 + 5) + 16)
    }

    /// One event starts two workflows: a chain whose start is decided ahead, and one whose first step is a
    /// `for_each` (its items are the transaction's to write); delivered three times, twice at once and once after
    /// its runs ended.
    static let chain = """
        name: chain
        \(PipelineTests.manual)steps:
          - {id: a, plugin: ptest, action: echo, input: {text: "{{ trigger.name }}"}}
          - {id: b, plugin: ptest, action: echo, input: {text: "{{ steps.a.output.text }}!"}}
        """
    static let each = """
        name: each
        \(PipelineTests.manual)steps:
          - {id: each, plugin: ptest, action: echo, for_each: "{{ trigger.items }}", input: {number: "{{ item }}"}}
        """

    static func redelivered(decideAhead: Bool) async throws -> [String] {
        let pipeline = try TestPipeline(workflows: [chain, each], decideAhead: decideAhead)
        let instance = try #require(pipeline.workflows[0].trigger?.instanceID)
        #expect(pipeline.workflows[1].trigger?.instanceID == instance)
        let event = TriggerEvent(id: "twice", instance: instance, output: ["name": "x", "items": [1, 2]], time: 1e9)
        try await pipeline.bus.publish([event.message, event.message])
        let first = try await pipeline.finishedRuns(2)
        try await pipeline.bus.publish([event.message])
        // The third delivery is acknowledged with nothing started: once the dispatcher has taken it, two runs still.
        let last = try await pipeline.bus.fetch(topic: Topics.events, after: 0, limit: 10).last?.offset
        #expect(last != nil)
        let taken = await waitFor {
            let committed = try? await pipeline.committed(group: Dispatcher.group, topic: Topics.events)
            return committed == last
        }
        #expect(taken)
        let runs = try await pipeline.store.runs(limit: 10)
        await pipeline.stop()
        #expect(runs.count == 2)
        return first.map { run in
            ([run["workflow"], run["status"], run["output"]]
                + (run["steps"]?.arrayValue ?? []).flatMap {
                    [$0["step"], $0["status"], $0["output"]]
                }).map { JSONWriter.compact.string($0 ?? .null) }.joined(separator: " ")
        }.sorted()
    }

    @Test func anEventDeliveredAgainStartsNoRunTwiceDecidedAheadOrNot() async throws {
        let ahead = try await Self.redelivered(decideAhead: true)
        let inside = try await Self.redelivered(decideAhead: false)
        #expect(ahead == inside)
        #expect(ahead.count == 2)
        #expect(ahead.allSatisfy { $0.contains(#""succeeded""#) })
        #expect(ahead.contains { $0.contains(#""x!""#) })
    }
}
