import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// The runs in flight kept across decisions on one SQLite connection (`RunStateCache`): what a decision reads through
/// it is what a fresh read of the file gives, whatever wrote the file in between.
@Suite struct RunStateCacheTests {
    /// Everything a decision reads of run-1 (its record, its attempts, its scope), as text to compare.
    @Sendable static func seen(_ tx: any RunStoreTransaction) throws -> [String] {
        let run = try tx.runRecord(id: "run-1").map { "\($0.id) \($0.workflow) \($0.status) \($0.startedAt ?? 0)" }
        let latest = try tx.latestSteps(runID: "run-1").sorted { $0.key < $1.key }.map {
            "\($0.key): \($0.value.jobID) \($0.value.attempt) \($0.value.status) \($0.value.error ?? "-")"
        }
        let steps = try tx.scope(runID: "run-1").steps.sorted { $0.key < $1.key }.map {
            "\($0.key)=\(JSONWriter.compact.string($0.value))"
        }
        let jobs = try ["run-1/a/1", "run-1/c/1", "run-1/d/1"].map {
            try tx.step(jobID: $0, runID: "run-1").map { "\($0.jobID) \($0.status)" } ?? "none"
        }
        return [run ?? "no run"] + latest + steps + jobs
    }

    /// What `store` and a store on a second connection to the same file (nothing kept) read of run-1.
    static func compare(_ store: SQLRunStore, _ fresh: SQLRunStore) async throws -> (kept: [String], read: [String]) {
        let kept = try await store.transaction(acknowledging: []) { tx in (try seen(tx), []) }
        let read = try await fresh.transaction(acknowledging: []) { tx in (try seen(tx), []) }
        return (kept, read)
    }

    struct Failed: Error {}

    @Test func aRunKeptAcrossDecisionsIsWhatTheFileHoldsWhateverWroteIt() async throws {
        try await StoreKind.sqlite.withStore { fixture in
            let file = try #require(fixture.database as? SQLiteDatabase)
            let cache = RunStateCache.cache(for: file)
            let store = fixture.store
            // A second connection to the file, with its own (empty) cache: what a fresh read gives.
            let other = try SQLiteDatabase(path: file.path)
            let fresh = try SQLRunStore(bus: EmbeddedBus(database: other))
            #expect(RunStateCache.cache(for: other) !== cache)
            #expect(RunStateCache.cache(for: file) === cache)

            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            #expect(cache.count == 1)
            // Decisions through the cache: an attempt added, then finished, in two transactions.
            try await store.transaction(acknowledging: []) { tx in
                _ = try Self.seen(tx)
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/c/1", runID: "run-1", stepID: "c", attempt: 1, status: .running))
                return ((), [])
            }
            try await store.transaction(acknowledging: []) { tx in
                _ = try Self.seen(tx)
                try tx.finishStep(jobID: "run-1/c/1", result: .success(["y": [1, "two"]]), startedAt: nil)
                return ((), [])
            }
            var (kept, read) = try await Self.compare(store, fresh)
            #expect(kept == read)
            #expect(kept.contains(#"c={"status":"succeeded","success":true,"output":{"y":[1,"two"]},"error":null}"#))

            // Another connection writes the file: the next decision reads it again.
            try await fresh.transaction(acknowledging: []) { tx in
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/d/1", runID: "run-1", stepID: "d", attempt: 1, status: .running))
                try tx.finishStep(jobID: "run-1/c/1", result: .failure("again"), startedAt: nil)
                return ((), [])
            }
            (kept, read) = try await Self.compare(store, fresh)
            #expect(kept == read)
            #expect(kept.contains("run-1/d/1 running") && kept.contains("c: run-1/c/1 1 failed again"))

            // A decision that fails leaves nothing of itself in the cache.
            await #expect(throws: Failed.self) {
                try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                    _ = try Self.seen(tx)
                    try tx.finishStep(jobID: "run-1/d/1", result: .success(["z": 1]), startedAt: nil)
                    #expect(try Self.seen(tx).contains("run-1/d/1 succeeded"))
                    throw Failed()
                }
            }
            (kept, read) = try await Self.compare(store, fresh)
            #expect(kept == read)
            #expect(kept.contains("run-1/d/1 running"))

            // A run that ends leaves the cache.
            try await store.transaction(acknowledging: []) { tx in
                _ = try tx.finishRun(id: "run-1", status: .succeeded, error: nil, output: nil)
                return ((), [])
            }
            #expect(cache.count == 0)
            (kept, read) = try await Self.compare(store, fresh)
            #expect(kept == read)
        }
    }

    @Test func theCacheIsBoundedOldestRunFirst() throws {
        let cache = RunStateCache(byteCapacity: 4_000)
        for round in 0..<3 {
            let view = RunStateCache.View(cache)
            let rows = RunStepRows(shared: view)
            let records = RunRecords(shared: view)
            view.begin(dataVersion: 1, rows: rows, records: records, items: nil)
            for index in 0..<10 {
                let id = "run-\(round)-\(index)"
                records.created(RunRecord(id: id, workflow: "w", version: nil, status: .running))
                rows.rows(of: id) { [] }
                rows.added(
                    RunStepRows.Row(
                        jobID: "\(id)/a/1", stepID: "a", attempt: 1, status: .succeeded,
                        output: String(repeating: "x", count: 100), error: nil),
                    to: id)
            }
            view.commit()
            #expect(cache.bytes <= 4_000)
            #expect(cache.count > 0)
        }
        // What is kept is the latest round's runs.
        let view = RunStateCache.View(cache)
        view.begin(dataVersion: 1, rows: RunStepRows(shared: view), records: RunRecords(shared: view), items: nil)
        let kept = (0..<3).map { round in (0..<10).filter { view.entry("run-\(round)-\($0)") != nil }.count }
        #expect(kept[0] == 0 && kept[1] == 0 && kept[2] == cache.count)
        // Another data version: nothing is kept.
        view.begin(dataVersion: 2, rows: RunStepRows(shared: view), records: RunRecords(shared: view), items: nil)
        #expect(cache.count == 0)
    }

    /// A workflow version the file has (committed by an earlier decision on the connection, or written by the same
    /// transaction) is not inserted again by each run of it; one whose transaction rolled back is, and after another
    /// connection's commit the file is asked again.
    @Test func aWorkflowVersionIsInsertedUntilACommitHasIt() async throws {
        try await StoreKind.sqlite.withStore { fixture in
            let file = try #require(fixture.database as? SQLiteDatabase)
            let store = fixture.store
            let version = StoredWorkflowVersion(hash: "h-1", name: "w", file: "w.yaml", source: "steps: []")
            let log = SQLiteStatementLog()
            file.record(into: log)
            func inserts() -> Int {
                log.statementTextsSinceMark.count { $0.hasPrefix("INSERT INTO workflow_versions") }
            }
            func record(times: Int = 1) async throws {
                log.mark()
                try await store.transaction(acknowledging: []) { tx in
                    for _ in 0..<times { try tx.recordWorkflowVersion(version) }
                    return ((), [])
                }
            }
            // Recorded in a transaction that rolls back: not known to the file.
            log.mark()
            await #expect(throws: Failed.self) {
                try await store.transaction(acknowledging: []) { tx -> ((), [BusMessage]) in
                    try tx.recordWorkflowVersion(version)
                    throw Failed()
                }
            }
            #expect(inserts() == 1)
            // (Twice in one transaction, as by two new runs: written once.)
            try await record(times: 2)
            #expect(inserts() == 1, "inserted again after the rollback, once")
            try await record()
            #expect(inserts() == 0, "known once committed")
            let hashes = try await file.read { db in try db.query("SELECT hash FROM workflow_versions") }
            #expect(hashes == [[.text("h-1")]])

            // Another connection commits: what this one knew is read from the file again.
            let other = try SQLiteDatabase(path: file.path)
            try await other.transaction { db in try db.query("DELETE FROM workflow_versions") }
            try await record()
            #expect(inserts() == 1)
            let again = try await file.read { db in try db.query("SELECT hash FROM workflow_versions") }
            #expect(again == [[.text("h-1")]])
            file.record(into: nil)
        }
    }
}
