import Foundation
import RelayCore
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// Job deadlines on the embedded bus: a job whose result never comes (here: no worker consumes `base64`'s topic) is
/// failed by the dispatcher after its step's timeout plus the grace period, and the run goes on as for any failure.
@Suite struct DeadlinePipelineTests {
    static let manual = PipelineTests.manual
    static let lost =
        "no result within 200 ms + 300 ms grace: no worker took the job, or it was lost (relay.jobs.base64)"

    /// A pipeline whose worker runs `ptest` only, with a short grace.
    static func pipeline(_ workflow: String) throws -> TestPipeline {
        try TestPipeline(workflows: [workflow], deadlineGrace: .milliseconds(300), workerPlugins: ["ptest"])
    }

    @Test func aJobNoWorkerTakesFailsByItsDeadlineAndFailsTheRun() async throws {
        let pipeline = try Self.pipeline(
            """
            name: lost
            \(Self.manual)steps:
              - {id: encode, plugin: base64, action: encode, input: {content: hi}, timeout: 200ms}
              - {id: after, plugin: ptest, action: echo, input: {text: never}}
            """)
        try await pipeline.publish([:])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "failed")
        #expect(run["error"]?.stringValue == "step encode failed: \(Self.lost)")
        #expect(steps(run).map { "\($0.0)/\($0.1) \($0.2)" } == ["encode/1 failed"], "nothing after it started")
        #expect(run["steps"]?.arrayValue?.first?["error"]?.stringValue == Self.lost)
        #expect(pipeline.metrics.value(of: PipelineMetrics.Name.stepsFailedByDeadline) == 1)
        #expect(await pipeline.metrics.prometheusText().contains("relay_steps_failed_by_deadline_total 1"))
    }

    @Test func aStepFailedByItsDeadlineIsRetriedWithANewAttempt() async throws {
        let pipeline = try Self.pipeline(
            """
            name: retried
            \(Self.manual)steps:
              - id: encode
                plugin: base64
                action: encode
                input: {content: hi}
                timeout: 200ms
                retry: {attempts: 2, backoff: 100ms}
            """)
        try await pipeline.publish([:])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "failed")
        #expect(steps(run).map { "\($0.0)/\($0.1) \($0.2)" } == ["encode/1 failed", "encode/2 failed"])
        #expect(run["steps"]?.arrayValue?.map { $0["error"]?.stringValue } == [Self.lost, Self.lost])
        #expect(pipeline.metrics.value(of: PipelineMetrics.Name.stepsFailedByDeadline) == 2)
    }

    /// The items of a for_each step have deadlines too: with no worker, each item fails by its deadline, the step
    /// ends (its items' slots null under continue_on_failure) and the run goes on.
    @Test func forEachItemsFailByTheirDeadlines() async throws {
        let pipeline = try Self.pipeline(
            """
            name: lost-items
            \(Self.manual)steps:
              - {id: encode, plugin: base64, action: encode, for_each: "{{ trigger.list }}", concurrency: 2,
                 input: {content: "{{ item }}"}, timeout: 200ms, continue_on_failure: true}
              - {id: after, plugin: ptest, action: echo, input: {text: "{{ steps.encode.status }}"}}
            """)
        try await pipeline.publish(["list": ["a", "b", "c"]])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        #expect(pipeline.metrics.value(of: PipelineMetrics.Name.stepsFailedByDeadline) == 3)
        let encode = try #require(run["steps"]?.arrayValue?.first { $0["step"] == "encode" })
        #expect(encode["output"] == .array([.null, .null, .null]))
        #expect(encode["items"]?.arrayValue?.map { $0["error"]?.stringValue } == [Self.lost, Self.lost, Self.lost])
    }

    /// A run ended by another branch leaves nothing behind in a for_each step: its item retry waiting for its backoff
    /// is dropped (never published), its items that never started are recorded as not run, the step has ended.
    @Test func anEndedRunDropsItsItemRetriesAndItsPendingItems() async throws {
        let pipeline = try Self.pipeline(
            """
            name: ended-items
            \(Self.manual)steps:
              - {id: held, plugin: base64, action: encode, needs: [], input: {content: hi}, timeout: 1h}
              - id: loop
                plugin: ptest
                action: flaky
                needs: []
                for_each: "{{ trigger.items }}"
                concurrency: 1
                input: {succeed_on: 3}
                retry: {attempts: 3, backoff: 1h}
            """)
        try await pipeline.publish(["items": [3, 3, 3]])
        var runID = ""
        // The first item failed once and waits an hour for its retry.
        #expect(
            await waitFor {
                guard let run = try? await pipeline.store.runs(limit: 1).first,
                    let detail = try? await pipeline.store.run(id: run.id)
                else { return false }
                runID = run.id
                return detail.items.contains { $0.stepID == "loop" && $0.attempt == 2 }
            })
        // The other branch fails the run (its job has no worker: its result is published here).
        try await pipeline.publishResult(.failure("held failed"), runID: runID, step: "held", workflow: "ended-items")
        let run = try #require(try await pipeline.finishedRuns(1).first)
        // The run's end, the dropped retry and the abandoned items are one transaction: all visible now.
        let waiting = try await pipeline.bus.database.read { db in
            try db.query("SELECT COUNT(*) FROM scheduled_jobs").first?.first?.int
        }
        let detail = try #require(try await pipeline.store.run(id: runID))
        await pipeline.stop()
        #expect(run["status"] == "failed")
        #expect(waiting == 0, "the item's retry is never published")
        #expect(!detail.steps.contains { $0.status == .running }, "\(detail.steps)")
        #expect(!detail.items.contains { $0.status == .running || $0.status == .pending }, "\(detail.items)")
        #expect(detail.items.filter { $0.error == "not run: the run had ended" }.count == 3, "\(detail.items)")
    }

    /// An item's result in time clears its deadline, as a step's does.
    @Test func itemResultsClearTheirDeadlines() async throws {
        let pipeline = try Self.pipeline(
            """
            name: cleared
            \(Self.manual)steps:
              - {id: loop, plugin: ptest, action: echo, for_each: "{{ trigger.items }}", input: {text: x}, timeout: 1h}
            """)
        try await pipeline.publish(["items": [1, 2, 3]])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        let (left, inRows, cleared) = try await pipeline.bus.database.read { db in
            (
                try db.query("SELECT COUNT(*) FROM job_deadlines").first?.first?.int,
                try db.query("SELECT COUNT(*) FROM step_items WHERE deadline_seconds > 3600").first?.first?.int,
                try db.query("SELECT COUNT(*) FROM step_items WHERE deadline_due IS NULL").first?.first?.int
            )
        }
        await pipeline.stop()
        #expect(run["status"] == "succeeded")
        #expect(left == 0)
        #expect(inRows == 3, "each item had its deadline (in its row)")
        #expect(cleared == 3)
    }

    @Test func withContinueOnFailureTheRunGoesOnAfterADeadline() async throws {
        let pipeline = try Self.pipeline(
            """
            name: goes-on
            \(Self.manual)steps:
              - {id: encode, plugin: base64, action: encode, input: {content: hi}, timeout: 200ms,
                 continue_on_failure: true}
              - {id: after, plugin: ptest, action: echo, input: {text: "{{ steps.encode.status }}"}}
            """)
        try await pipeline.publish([:])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        #expect(steps(run).map { "\($0.0)/\($0.1) \($0.2)" } == ["encode/1 failed", "after/1 succeeded"])
        #expect(run["steps"]?.arrayValue?.last?["output"]?["text"] == "failed")
    }

    @Test func aResultAfterTheDeadlineIsRecordedAndChangesNothing() async throws {
        let pipeline = try Self.pipeline(
            """
            name: late
            \(Self.manual)steps:
              - {id: encode, plugin: base64, action: encode, input: {content: hi}, timeout: 200ms}
            """)
        try await pipeline.publish([:])
        let failed = try #require(try await pipeline.finishedRuns(1).first)
        let runID = try #require(failed["id"]?.stringValue)
        // The job's result comes at last, as a worker would publish it.
        let route = try await pipeline.publishResult(
            .success(["data": "aGk="]), runID: runID, step: "encode", workflow: "late", timeoutMilliseconds: 200)
        #expect(
            await waitFor { pipeline.metrics.value(of: PipelineMetrics.Name.lateResults) == 1 },
            "the late result was read")
        let recorded = try await pipeline.bus.database.read { db in
            try db.query("SELECT late_status FROM job_deadlines WHERE job_id = ?", [.text(route.jobID)]).first?.first?
                .text
        }
        let run = try #require(try await pipeline.store.run(id: runID)?.json)
        await pipeline.stop()
        #expect(recorded == "succeeded")
        #expect(run["status"] == "failed")
        #expect(run["error"] == failed["error"])
        #expect(steps(run).map { "\($0.0)/\($0.1) \($0.2)" } == ["encode/1 failed"])
        #expect(run["steps"]?.arrayValue?.first?["output"] == .null)
        #expect(pipeline.metrics.value(of: PipelineMetrics.Name.deadLetters) == 0)
    }

    @Test func aRunFailedByOneBranchDropsTheOtherBranchsWaitingRetry() async throws {
        // `held` waits for a result the test publishes; `flaky` fails and waits a minute for its retry.
        let pipeline = try Self.pipeline(
            """
            name: dropped
            \(Self.manual)steps:
              - {id: held, plugin: base64, action: encode, needs: [], input: {content: hi}, timeout: 1h}
              - id: flaky
                plugin: ptest
                action: flaky
                needs: []
                input: {succeed_on: 3}
                retry: {attempts: 3, backoff: 1m}
            """)
        try await pipeline.publish([:])
        var runID = ""
        let waited = try await waitFor {
            guard let run = try await pipeline.store.runs(limit: 1).first else { return false }
            runID = run.id
            return try await pipeline.store.run(id: run.id)?.steps.contains { $0.stepID == "flaky" && $0.attempt == 2 }
                ?? false
        }
        #expect(waited, "flaky's retry waits for its backoff")
        try await pipeline.publishResult(.failure("held failed"), runID: runID, step: "held", workflow: "dropped")
        let run = try #require(try await pipeline.finishedRuns(1).first)
        let waiting = try await pipeline.bus.database.read { db in
            try db.query("SELECT COUNT(*) FROM scheduled_jobs").first?.first?.int
        }
        await pipeline.stop()
        #expect(run["status"] == "failed")
        #expect(run["error"] == "step held failed: held failed")
        #expect(waiting == 0)
        let flaky = (run["steps"]?.arrayValue ?? []).filter { $0["step"] == "flaky" }
        #expect(flaky.map { $0["status"]?.stringValue } == ["failed", "failed"])
        #expect(flaky.last?["attempt"] == 2)
        #expect(flaky.last?["error"] == "not run: the run had ended")
    }
}

/// A step's recorded start and end are both the worker's (one clock), so its duration is what the plugin took, not
/// the result's trip back to the dispatcher; a result's times that make no sense are not taken.
@Suite struct WorkerTimesPipelineTests {
    @Test func aStepsDurationIsTheWorkersStartAndEnd() async throws {
        // No worker takes base64 here: the test publishes the worker's results itself.
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: timed
                \(PipelineTests.manual)steps:
                  - {id: a, plugin: base64, action: encode, input: {content: x}}
                  - {id: b, plugin: base64, action: encode, input: {content: y}}
                """
            ], workerPlugins: ["ptest"])
        try await pipeline.publish([:])
        let started = try #require(try await pipeline.waitForRun(of: "timed") { !$0.steps.isEmpty })
        let runID = started.summary.id
        try await pipeline.publishResult(
            .success(["data": "eA=="]), runID: runID, step: "a", workflow: "timed", startedAt: 1_000,
            finishedAt: 1_002.5)
        let second = try #require(try await pipeline.waitForRun(of: "timed") { $0.steps.count == 2 })
        // An end before the start is not taken: the dispatcher's own time is.
        try await pipeline.publishResult(
            .success(["data": "eQ=="]), runID: runID, step: "b", workflow: "timed", startedAt: 2_000,
            finishedAt: 1_000)
        let run = try #require(try await pipeline.finishedRuns(of: "timed").first)
        await pipeline.stop()
        #expect(second.steps.first?.startedAt == 1_000)
        #expect(second.steps.first?.finishedAt == 1_002.5)
        #expect(run["steps"]?.arrayValue?.first?["duration_ms"] == 2500)
        let b = try #require(run["steps"]?.arrayValue?.last?["duration_ms"]?.intValue)
        #expect(b > 1_000_000, "an end before the start is replaced by the dispatcher's time")
    }
}
