import BigInt
import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// A decision made outside the database over a run kept in flight (`RunSpeculation`): what it reads is what a
/// transaction reads, what it writes is what the same calls write in a transaction, and it is applied only while
/// its run is as it read it.
@Suite struct RunSpeculationTests {
    /// The decision a step's result leads to, the same whatever it runs over: c's result recorded, then d's attempt
    /// with its deadline, and when `end`, the run's end.
    @Sendable static func decide(_ tx: any RunStoreTransaction, end: Bool = false) throws -> [String] {
        var seen = try Self.seen(tx)
        try tx.finishStep(jobID: "run-1/c/1", result: .success(["y": [1, "two"]]), startedAt: 1_000, finishedAt: 1_001)
        seen += try Self.seen(tx)
        try tx.addDeadline(
            JobDeadline(jobID: "run-1/d/1", runID: "run-1", workflow: "w", seconds: 60, error: "late"),
            startingAt: 2_000)
        try tx.addStep(StepAttemptRecord(jobID: "run-1/d/1", runID: "run-1", stepID: "d", attempt: 1, status: .running))
        seen += try Self.seen(tx)
        if end {
            seen.append("ended: \(try tx.finishRun(id: "run-1", status: .failed, error: "stop", output: nil))")
            seen.append("again: \(try tx.finishRun(id: "run-1", status: .failed, error: "stop", output: nil))")
            seen += try Self.seen(tx)
        }
        return seen
    }

    /// What a decision reads of run-1, its start time aside (the two stores' runs started at different times).
    @Sendable static func seen(_ tx: any RunStoreTransaction) throws -> [String] {
        try RunStateCacheTests.seen(tx).map { line in
            line.hasPrefix("run-1 w ") ? String(line.split(separator: " ").prefix(3).joined(separator: " ")) : line
        }
    }

    /// Two stores, each with run-1 (a, b decided) and c's attempt running, kept in its connection's cache.
    static func withTwoStores(_ body: (SQLRunStore, SQLRunStore) async throws -> Void) async throws {
        try await SQLRunStoreTests.withDatabase { first in
            try await SQLRunStoreTests.withDatabase { second in
                let stores = [
                    try SQLRunStore(bus: EmbeddedBus(database: first)),
                    try SQLRunStore(bus: EmbeddedBus(database: second)),
                ]
                for store in stores {
                    try await store.transaction(acknowledging: []) { tx in
                        _ = try SQLRunStoreTests.decide(tx)
                        try tx.addStep(
                            StepAttemptRecord(
                                jobID: "run-1/c/1", runID: "run-1", stepID: "c", attempt: 1, status: .running))
                        return ((), [])
                    }
                }
                try await body(stores[0], stores[1])
            }
        }
    }

    /// The rows the decision writes, as text: c's and d's attempts (with their deadlines), the run, and leftover
    /// deadlines. (The rest was written at different times in the two stores.)
    static func rows(_ store: SQLRunStore) async throws -> [String] {
        try await #require(store.database as? SQLiteDatabase).read { db in
            try db.query(
                """
                SELECT job_id, status, output, error, started_at, finished_at, deadline_seconds, deadline_error,
                    deadline_due FROM steps WHERE job_id IN ('run-1/c/1', 'run-1/d/1') ORDER BY job_id
                """
            ).map { "\($0)" }
                + db.query("SELECT id, status, error, output FROM runs").map { "\($0)" }
                + db.query("SELECT job_id, seconds, error, due_at FROM job_deadlines").map { "\($0)" }
        }
    }

    /// A finished attempt keeps its output as the value it was written from (a speculation's and a transaction's
    /// rows alike), not parsed back from its JSON text: that value must be what a later read of the text gives, to
    /// the digit and the key order, for any output (integers and floats kept apart, big integers, escapes).
    @Sendable static func text(_ value: JSONValue?) -> String {
        value.map { JSONWriter.compact.string($0) } ?? "nil"
    }

    @Test func anOutputKeptAsAValueIsWhatReadingItsTextGives() async throws {
        let outputs: [JSONValue] = [
            ["i": 1, "f": 1.0, "tenth": 0.1, "big": 1e300, "small": -2.5e-308, "z": 0, "neg": -7],
            ["huge": JSONValue.integer(BigInt(3) << 100), "max": .int(Int.max)],
            ["b": ["z": true, "a": nil, "m": [1, "two", ["x": "é\u{0}\n\"\\ 😀"]]], "a": ""],
            "just text", 42, [],
        ]
        for (index, output) in outputs.enumerated() {
            try await Self.withTwoStores { store, _ in
                // Decided ahead (the run is in the connection's cache), then applied.
                let speculation = try #require(store.speculation(runID: "run-1"))
                try speculation.finishStep(jobID: "run-1/c/1", result: .success(output), startedAt: 1, finishedAt: 2)
                #expect(
                    Self.text(try speculation.scope(runID: "run-1").steps["c"]?["output"]) == Self.text(output),
                    "\(index)")
                #expect(Self.text(try speculation.latestOutput(runID: "run-1", stepID: "c")) == Self.text(output))
                let applied = try await store.transaction(acknowledging: []) { tx in
                    ((try tx.apply(speculation), Self.text(try tx.latestOutput(runID: "run-1", stepID: "c"))), [])
                }
                #expect(applied.0)
                #expect(applied.1 == Self.text(output))
                // Read back from the file by another connection's store, which keeps nothing of the run.
                let path = try #require(store.database as? SQLiteDatabase).path
                let fresh = try SQLRunStore(bus: EmbeddedBus(database: SQLiteDatabase(path: path)))
                let read = try await fresh.transaction(acknowledging: []) { tx in
                    (
                        [
                            Self.text(try tx.scope(runID: "run-1").steps["c"]?["output"]),
                            Self.text(try tx.latestOutput(runID: "run-1", stepID: "c")),
                            Self.text(try tx.latestOutput(runID: "run-1", stepID: "nope")),
                        ], []
                    )
                }
                #expect(read == [Self.text(output), Self.text(output), "nil"], "\(index)")
            }
        }
    }

    @Test(arguments: [false, true]) func aSpeculationReadsAndWritesWhatATransactionDoes(end: Bool) async throws {
        try await Self.withTwoStores { speculating, deciding in
            let speculation = try #require(speculating.speculation(runID: "run-1"))
            let speculated = try Self.decide(speculation, end: end)
            #expect(speculation.isUsable)
            let decided = try await deciding.transaction(acknowledging: []) { tx in (try Self.decide(tx, end: end), [])
            }
            #expect(speculated == decided)
            if end { #expect(decided.contains("ended: true") && decided.contains("again: false")) }

            let applied = try await speculating.transaction(acknowledging: []) { tx in (try tx.apply(speculation), []) }
            #expect(applied)
            // The rows written by applying it are the rows the transaction wrote (times aside: none is taken here).
            let written = try await Self.rows(speculating)
            #expect(written == (try await Self.rows(deciding)))
            #expect(written.contains { $0.contains("run-1/d/1") && $0.contains("late") })
            // And what the next decision reads of the run (through the cache) is the same.
            let next = try await speculating.transaction(acknowledging: []) { tx in (try Self.seen(tx), []) }
            let fresh = try await deciding.transaction(acknowledging: []) { tx in (try Self.seen(tx), []) }
            #expect(next == fresh)
            // A run that has ended is not speculated over.
            #expect((speculating.speculation(runID: "run-1") == nil) == end)
        }
    }

    @Test func aSpeculationOverARunThatChangedSinceIsNotApplied() async throws {
        try await Self.withTwoStores { store, _ in
            let before = RunSpeculation.counts
            // Another decision about the run commits after the speculation read it.
            let stale = try #require(store.speculation(runID: "run-1"))
            _ = try Self.decide(stale)
            try await store.transaction(acknowledging: []) { tx in
                _ = try RunStateCacheTests.seen(tx)
                try tx.finishStep(jobID: "run-1/c/1", result: .failure("first"), startedAt: nil)
                return ((), [])
            }
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.apply(stale), []) } == false)

            // The same transaction read the run before applying: not applied either.
            let early = try #require(store.speculation(runID: "run-1"))
            _ = try early.runRecord(id: "run-1")
            let applied = try await store.transaction(acknowledging: []) { tx in
                _ = try tx.latestSteps(runID: "run-1")
                return (try tx.apply(early), [])
            }
            #expect(applied == false)

            // Another connection to the file commits: the cache starts over, and the speculation is not applied.
            let outside = try #require(store.speculation(runID: "run-1"))
            _ = try outside.runRecord(id: "run-1")
            let file = try #require(store.database as? SQLiteDatabase)
            let other = try SQLRunStore(bus: EmbeddedBus(database: SQLiteDatabase(path: file.path)))
            try await other.transaction(acknowledging: []) { tx in
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/e/1", runID: "run-1", stepID: "e", attempt: 1, status: .running))
                return ((), [])
            }
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.apply(outside), []) } == false)
            // Nothing of the three was written.
            #expect(try await Self.rows(store).contains { $0.contains("run-1/d/1") } == false)
            #expect(RunSpeculation.counts.stale >= before.stale + 3)

            // Read again, the run is speculated over anew, and that one applies.
            _ = try await store.transaction(acknowledging: []) { tx in (try RunStateCacheTests.seen(tx), []) }
            let fresh = try #require(store.speculation(runID: "run-1"))
            try fresh.addStep(
                StepAttemptRecord(jobID: "run-1/d/1", runID: "run-1", stepID: "d", attempt: 1, status: .running))
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.apply(fresh), []) })
            #expect(try await Self.rows(store).contains { $0.contains("run-1/d/1") })
        }
    }

    @Test func whatASpeculationCannotAnswerMakesItUnusableEvenWhenTheErrorIsSwallowed() async throws {
        try await Self.withTwoStores { store, _ in
            let speculation = try #require(store.speculation(runID: "run-1"))
            _ = try speculation.latestSteps(runID: "run-1")
            #expect(speculation.isUsable)
            // (A decision may `try?` a read and go another way when it fails: the speculation is then not used.)
            _ = try? speculation.runningChildren(of: "run-1")
            #expect(speculation.unusable == "read children")
            #expect(try await store.transaction(acknowledging: []) { tx in (try tx.apply(speculation), []) } == false)
            // Another run's record, an attempt by its id alone: not answered either.
            let other = try #require(store.speculation(runID: "run-1"))
            #expect(throws: RunSpeculation.Unanswerable.self) { try other.runRecord(id: "run-2") }
            #expect(other.unusable == "read the record of another run")
            // A store that keeps nothing of the run (never read on this connection) gives no speculation.
            #expect(store.speculation(runID: "run-2") == nil)
        }
    }

    /// The run as the connection's cache keeps it: each attempt with its output, error and whether its deadline is in
    /// its row (what the next result's decision goes by), and the run's status.
    static func kept(_ store: SQLRunStore) throws -> [String] {
        let entry = RunStateCache.cache(for: try #require(store.database as? SQLiteDatabase)).entry("run-1")
        return (entry?.rows ?? []).map {
            "\($0.jobID) \($0.attempt) \($0.status) \($0.output ?? "-") \($0.error ?? "-") "
                + "deadlineInRow=\($0.deadlineInRow)"
        } + [entry.map { "\($0.record.id) \($0.record.status)" } ?? "not kept"]
    }

    /// A speculation applied leaves the run kept as the same decision made in a transaction leaves it (its attempts,
    /// their deadlines in their rows or not, the run's status), and the next result, decided in a transaction over
    /// what was kept, writes the same rows: with the deadline given just before its attempt is added (in the row),
    /// given before another attempt's result is recorded (written to `job_deadlines` by then), and both (the second
    /// in the row, the first in `job_deadlines`: the speculation's writes are then made one by one).
    @Test(arguments: [DeadlineOrder.beforeAttempt, .beforeResult, .both])
    func anAppliedSpeculationKeepsTheRunAsTheTransactionWould(order: DeadlineOrder) async throws {
        @Sendable func decide(_ tx: any RunStoreTransaction) throws {
            // (As a decision does: the run and its attempts read first.)
            _ = try tx.runRecord(id: "run-1")
            _ = try tx.latestSteps(runID: "run-1")
            let deadline = JobDeadline(jobID: "run-1/d/1", runID: "run-1", workflow: "w", seconds: 60, error: "late")
            if order != .beforeAttempt { try tx.addDeadline(deadline, startingAt: 2_000) }
            try tx.finishStep(jobID: "run-1/c/1", result: .success(["y": 1]), startedAt: 1_000, finishedAt: 1_001)
            if order != .beforeResult { try tx.addDeadline(deadline, startingAt: 2_000) }
            try tx.addStep(
                StepAttemptRecord(jobID: "run-1/d/1", runID: "run-1", stepID: "d", attempt: 1, status: .running))
        }
        try await Self.withTwoStores { speculating, deciding in
            let speculation = try #require(speculating.speculation(runID: "run-1"))
            try decide(speculation)
            #expect(try await speculating.transaction(acknowledging: []) { tx in (try tx.apply(speculation), []) })
            try await deciding.transaction(acknowledging: []) { tx in (try decide(tx), []) }
            let kept = try Self.kept(speculating)
            let keptDeciding = try Self.kept(deciding)
            #expect(kept == keptDeciding)
            #expect(
                kept.contains {
                    $0.hasPrefix("run-1/d/1 1 running") && $0.hasSuffix("deadlineInRow=\(order != .beforeResult)")
                }
            )
            #expect(try await Self.rows(speculating) == (try await Self.rows(deciding)))
            // d's result, then the run's end, decided in a transaction from what each store kept.
            for store in [speculating, deciding] {
                try await store.transaction(acknowledging: []) { tx in
                    try tx.finishStep(jobID: "run-1/d/1", result: .success([:]), startedAt: 3_000, finishedAt: 3_001)
                    _ = try tx.finishRun(id: "run-1", status: .succeeded, error: nil, output: nil)
                    return ((), [])
                }
            }
            #expect(try await Self.rows(speculating) == (try await Self.rows(deciding)))
            // d's deadline is cleared wherever it was (its row's due time, or its row of `job_deadlines`): nothing is
            // left to fail the attempt later.
            let left = try await #require(speculating.database as? SQLiteDatabase).read { db in
                try db.query("SELECT deadline_due FROM steps WHERE job_id = 'run-1/d/1'")
                    + db.query("SELECT job_id FROM job_deadlines")
            }
            #expect(left == [[.null]])
        }
    }

    /// Where a deadline is given in `anAppliedSpeculationKeepsTheRunAsTheTransactionWould`.
    enum DeadlineOrder: Sendable {
        case beforeAttempt, beforeResult, both
    }
}
