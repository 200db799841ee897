import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// A run's start decided outside the database (`RunStore.newRunSpeculation(runID:)`): it writes what the same calls
/// write in a transaction, and only when the run is new there; a run that exists already gets nothing more.
@Suite struct NewRunSpeculationTests {
    static let event = TriggerEvent(id: "e-9", instance: "i", output: ["n": 9], time: 1_700_000_000)

    /// What a run's start does: the version, the run, its first attempt and deadline; then what it reads back.
    @Sendable static func start(_ tx: any RunStoreTransaction, startedAt: Double? = nil) throws -> [String] {
        try tx.recordWorkflowVersion(StoredWorkflowVersion(hash: "h-1", name: "w", file: "w.yaml", source: "src"))
        var run = NewRun(id: "run-9", workflow: "w", version: "h-1", event: event, timeout: 60)
        run.startedAt = startedAt
        guard try tx.createRun(run) else { return ["exists"] }
        var seen = ["latest: \(try tx.latestSteps(runID: "run-9"))", "scope: \(try tx.scope(runID: "run-9").trigger)"]
        try tx.addDeadline(
            JobDeadline(jobID: "run-9/a/1", runID: "run-9", workflow: "w", seconds: 30, error: "late"),
            startingAt: 1_700_000_001)
        try tx.addStep(StepAttemptRecord(jobID: "run-9/a/1", runID: "run-9", stepID: "a", attempt: 1, status: .running))
        let record = try #require(try tx.runRecord(id: "run-9"))
        seen.append(
            "record: \(record.id) \(record.workflow) \(record.version ?? "-") \(record.status) \(record.timeout ?? 0)")
        seen.append("latest: \(try tx.latestSteps(runID: "run-9").keys.sorted())")
        return seen
    }

    /// What a decision reads of run-9.
    @Sendable static func seen(_ tx: any RunStoreTransaction) throws -> [String] {
        let run = try tx.runRecord(id: "run-9").map {
            "\($0.id) \($0.workflow) \($0.status) \($0.startedAt ?? 0) \($0.timeout ?? 0)"
        }
        return [run ?? "none", "\(try tx.latestSteps(runID: "run-9"))", "\(try tx.scope(runID: "run-9").trigger)"]
    }

    /// The rows of run-9, its attempts and its version, as text.
    static func rows(_ store: SQLRunStore) async throws -> [String] {
        try await #require(store.database as? SQLiteDatabase).read { db in
            try db.query("SELECT id, workflow, status, event_id, trigger_event, started_at, deadline_at FROM runs")
                .map { "\($0)" }
                + db.query(
                    "SELECT job_id, run_id, status, deadline_seconds, deadline_error, deadline_due FROM steps"
                ).map { "\($0)" }
                + db.query("SELECT hash, name FROM workflow_versions").map { "\($0)" }
        }
    }

    static func withStores(_ body: (SQLRunStore, SQLRunStore) async throws -> Void) async throws {
        try await SQLRunStoreTests.withDatabase { first in
            try await SQLRunStoreTests.withDatabase { second in
                try await body(
                    try SQLRunStore(bus: EmbeddedBus(database: first)),
                    try SQLRunStore(bus: EmbeddedBus(database: second)))
            }
        }
    }

    @Test func aNewRunDecidedAheadWritesWhatATransactionDoes() async throws {
        try await Self.withStores { speculating, deciding in
            let speculation = try #require(speculating.newRunSpeculation(runID: "run-9"))
            #expect(speculation.isNewRun)
            let speculated = try Self.start(speculation)
            #expect(speculation.isUsable)
            // The same calls in a transaction, with the start time the speculation took.
            let startedAt = try #require(speculation.newRunStartedAt)
            let decided = try await deciding.transaction(acknowledging: []) { tx in
                (try Self.start(tx, startedAt: startedAt), [])
            }
            #expect(speculated == decided)
            let before = RunSpeculation.counts.newRuns
            let applied = try await speculating.transaction(acknowledging: []) { tx in
                (try tx.applyNewRun(speculation), [])
            }
            #expect(applied == true)
            #expect(RunSpeculation.counts.newRuns >= before + 1)
            let written = try await Self.rows(speculating)
            #expect(written == (try await Self.rows(deciding)))
            #expect(written.contains { $0.contains("run-9/a/1") && $0.contains("late") })
            // The next decision about the run reads it as it would have after the transaction's own start.
            let next = try await speculating.transaction(acknowledging: []) { tx in (try Self.seen(tx), []) }
            let fresh = try await deciding.transaction(acknowledging: []) { tx in (try Self.seen(tx), []) }
            #expect(next == fresh)
        }
    }

    @Test func aRunThatExistsGetsNothingMore() async throws {
        try await Self.withStores { store, _ in
            // The run is there already (its event came before, or another dispatcher started it), with no attempt.
            let created = try await store.transaction(acknowledging: []) { tx in
                (try tx.createRun(NewRun(id: "run-9", workflow: "w", version: nil, event: Self.event)), [])
            }
            #expect(created)
            let speculation = try #require(store.newRunSpeculation(runID: "run-9"))
            _ = try Self.start(speculation)
            let applied = try await store.transaction(acknowledging: []) { tx in (try tx.applyNewRun(speculation), []) }
            #expect(applied == false)
            let rows = try await Self.rows(store)
            #expect(!rows.contains { $0.contains("run-9/a/1") })
            // (The version, written before the run's creation as a decision writes it, is kept: it is the same row
            // a decision in the transaction would have kept.)
            #expect(rows.filter { $0.contains("run-9") }.count == 1)
        }
    }

    @Test func whatANewRunSpeculationCannotAnswerMakesItUnusable() async throws {
        try await Self.withStores { store, _ in
            // Reading the run before creating it (the transaction would find no run there).
            let early = try #require(store.newRunSpeculation(runID: "run-9"))
            #expect(throws: RunSpeculation.Unanswerable.self) { try early.runRecord(id: "run-9") }
            #expect(early.unusable == "read the record of a run not created yet")
            // Creating another run, or the same twice.
            let other = try #require(store.newRunSpeculation(runID: "run-9"))
            #expect(throws: RunSpeculation.Unanswerable.self) {
                try other.createRun(NewRun(id: "run-8", workflow: "w", version: nil, event: Self.event))
            }
            let twice = try #require(store.newRunSpeculation(runID: "run-9"))
            _ = try Self.start(twice)
            #expect(throws: RunSpeculation.Unanswerable.self) {
                try twice.createRun(NewRun(id: "run-9", workflow: "w", version: nil, event: Self.event))
            }
            for unusable in [early, other, twice] {
                #expect(
                    try await store.transaction(acknowledging: []) { tx in (try tx.applyNewRun(unusable), []) } == nil)
            }
            // A new run's speculation is not applied as one over a run in flight, nor the other way round.
            let fresh = try #require(store.newRunSpeculation(runID: "run-9"))
            _ = try Self.start(fresh)
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.apply(fresh), []) } == false)
            #expect(try await Self.rows(store).isEmpty)
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.applyNewRun(fresh), []) } == true)
            let inFlight = try #require(store.speculation(runID: "run-9"))
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.applyNewRun(inFlight), []) } == nil)
            // The transaction that already touched the run decides about it itself.
            let touched = try #require(store.newRunSpeculation(runID: "run-7"))
            try touched.recordWorkflowVersion(StoredWorkflowVersion(hash: "h-1", name: "w", file: "w.yaml", source: ""))
            #expect(try touched.createRun(NewRun(id: "run-7", workflow: "w", version: "h-1", event: Self.event)))
            let result = try await store.transaction(acknowledging: []) { tx in
                _ = try tx.runRecord(id: "run-7")
                return (try tx.applyNewRun(touched), [])
            }
            #expect(result == nil)
        }
    }
}
