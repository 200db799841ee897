import Foundation
import RelayCore
import RelayStore
import Testing

@testable import RelayEngine

/// Results decided outside the transaction (`RunSpeculation`, `Dispatcher.Configuration.decideAhead`) make the same
/// runs as results decided inside it: the same workflows over the same events, once each way, record the same steps,
/// outputs, errors and ends.
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
    static func runs(decideAhead: Bool) async throws -> [String] {
        let pipeline = try TestPipeline(workflows: [workflow], decideAhead: decideAhead)
        for n in 0..<8 { try await pipeline.publish(["name": .string("event \(n)"), "n": .int(n)]) }
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
        let before = RunSpeculation.counts.applied
        let ahead = try await Self.runs(decideAhead: true)
        // (Other suites' pipelines may decide ahead meanwhile: this one's count is at least its own.)
        let applied = RunSpeculation.counts.applied - before
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
    }
}
