import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// The log of changes the stream reads: written in the transaction that makes the changes (on SQLite by the
/// connection's pre-update hook, on PostgreSQL by triggers), in commit order, pruned by age without ever letting
/// sequence numbers go back.
@Suite struct SQLRunStoreChangeTests {
    @Test(arguments: StoreKind.all) func everyStatusChangeIsLoggedInCommitOrder(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            #expect(try await store.changeSequences() == (0, 1))
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            _ = try await store.transaction(acknowledging: []) { tx in
                try tx.addItems(runID: "run-1", stepID: "c", items: [1, 2])
                try tx.startItem(jobID: "run-1/c[0]/1", input: [:])
                try tx.finishRun(id: "run-1", status: .succeeded, error: nil)
                return ((), [])
            }
            let changes = try await store.changes(after: 0, runID: nil, limit: 100)
            let seen = changes.map { [$0.kind.rawValue, $0.stepID ?? "-", $0.status] }
            #expect(
                seen == [
                    ["run", "-", "running"], ["step", "a", "running"], ["step", "a", "succeeded"],
                    ["step", "b", "skipped"], ["item", "c", "running"], ["run", "-", "succeeded"],
                ], "\(seen)")
            #expect(changes.allSatisfy { $0.workflow == "w" && $0.runID == "run-1" })
            #expect(changes.map(\.sequence) == Array(1...6))
            #expect(try await store.changes(after: 4, runID: "run-1", limit: 100).map(\.sequence) == [5, 6])
            #expect(try await store.changes(after: 0, runID: "run-2", limit: 100).isEmpty)

            // Pruned to nothing by age but the latest: the next change continues the sequence.
            #expect(try await store.pruneChanges(before: RunTime.now() + 60) == 5)
            #expect(try await store.changeSequences() == (6, 6))
            _ = try await store.transaction(acknowledging: []) { tx in
                (try tx.reopenRun(id: "run-1"), [])
            }
            #expect(try await store.changes(after: 6, runID: nil, limit: 10).map(\.sequence) == [7])
        }
    }

    /// The log's rows on SQLite, oldest first: kind, step, attempt, item, status.
    static func logged(_ file: SQLiteDatabase, after sequence: Int64 = 0) async throws -> [String] {
        try await file.read { db in
            try db.query(
                "SELECT kind, step_id, attempt, item_index, status FROM run_changes WHERE seq > ? ORDER BY seq",
                [.int(sequence)]
            ).map { row in
                row.map { value in
                    switch value {
                    case .text(let text): text
                    case .int(let int): "\(int)"
                    default: "-"
                    }
                }.joined(separator: " ")
            }
        }
    }

    @Test func aChangeMadeByAnyStatementOfTheConnectionIsLoggedAndAnUnchangedStatusIsNot() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            let before = try await Self.logged(file)
            // Statements of no store method, in a transaction of the same connection: the status changes are logged
            // (as a trigger would have), other columns' changes and a status set to what it was are not.
            try await file.transaction { db in
                try db.query("UPDATE steps SET output = '{\"y\":2}' WHERE job_id = 'run-1/a/1'")
                try db.query("UPDATE steps SET status = status WHERE run_id = 'run-1'")
                try db.query("UPDATE steps SET status = 'failed' WHERE run_id = 'run-1' AND step_id = 'b'")
                try db.query("UPDATE runs SET status = 'failed', error = NULL WHERE id = 'run-1'")
                try db.query("DELETE FROM steps WHERE job_id = 'run-1/a/1'")
            }
            let after = Array(try await Self.logged(file).dropFirst(before.count))
            #expect(after == ["step b 0 - failed", "run - - - failed"], "\(before) then \(after)")
        }
    }

    @Test func aTransactionRolledBackLogsNothingAndLeavesNothingForTheNext() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                _ = try await store.transaction(acknowledging: []) { tx -> (Bool, [BusMessage]) in
                    _ = try SQLRunStoreTests.decide(tx)
                    throw Refused()
                }
            }
            #expect(try await Self.logged(file).isEmpty)
            let created = try await store.transaction(acknowledging: []) { tx in
                (try tx.createRun(id: "run-2", workflow: "w", event: SQLRunStoreTests.event), [])
            }
            #expect(created)
            #expect(try await Self.logged(file) == ["run - - - running"])
        }
    }

    /// More changes in one transaction than one statement writes (64): every one, in the order made.
    @Test func manyChangesInOneTransactionAreLoggedInTheOrderTheyWereMade() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            _ = try await store.transaction(acknowledging: []) { tx -> ((), [BusMessage]) in
                _ = try tx.createRun(id: "run-1", workflow: "w", event: SQLRunStoreTests.event)
                for n in 1...101 {
                    try tx.addStep(
                        StepAttemptRecord(
                            jobID: "run-1/s\(n)/1", runID: "run-1", stepID: "s\(n)", attempt: 1, status: .running))
                    if n.isMultiple(of: 2) {
                        try tx.finishStep(jobID: "run-1/s\(n)/1", result: .success([:]), startedAt: nil)
                    }
                }
                return ((), [])
            }
            var expected = ["run - - - running"]
            for n in 1...101 {
                expected.append("step s\(n) 1 - running")
                if n.isMultiple(of: 2) { expected.append("step s\(n) 1 - succeeded") }
            }
            #expect(try await Self.logged(file) == expected)
            let changes = try await store.changes(after: 0, runID: "run-1", limit: 500)
            #expect(changes.map(\.sequence) == Array(1...Int64(expected.count)))
        }
    }

    /// A file whose log was written by the triggers of earlier versions: they are dropped (a change logged once),
    /// and another connection to the file (another process) logs its own changes.
    @Test func aFileWithTheOldTriggersLogsEachChangeOnceAndEveryConnectionLogs() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let now = "((julianday('now') - 2440587.5) * 86400.0)"
            try SQLRunStore.createTables(file)
            try file.syncTransaction { db in
                try db.execute(
                    """
                    CREATE TRIGGER IF NOT EXISTS run_changes_run_added AFTER INSERT ON runs BEGIN
                        INSERT INTO run_changes (at, run_id, kind, status) VALUES (\(now), NEW.id, 'run', NEW.status);
                    END;
                    CREATE TRIGGER IF NOT EXISTS run_changes_step_added AFTER INSERT ON steps BEGIN
                        INSERT INTO run_changes (at, run_id, kind, step_id, attempt, status)
                        VALUES (\(now), NEW.run_id, 'step', NEW.step_id, NEW.attempt, NEW.status);
                    END;
                    """)
            }
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            let triggers = try await file.read { db in
                try db.query("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            }
            #expect(triggers.isEmpty)
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            let logged = try await Self.logged(file)
            #expect(logged.prefix(3) == ["run - - - running", "step a 1 - running", "step a 1 - succeeded"])

            let other = try SQLiteDatabase(path: file.path)
            let second = try SQLRunStore(bus: try EmbeddedBus(database: other))
            _ = try await second.transaction(acknowledging: []) { tx in
                (try tx.finishRun(id: "run-1", status: .cancelled, error: "by hand"), [])
            }
            #expect(try await Self.logged(file, after: Int64(logged.count)) == ["run - - - cancelled"])
        }
    }

    /// A run's row for a statement of `INSERT INTO runs`.
    static func runRow(_ id: String) -> String { "('\(id)', 'w', 'running', 'e', '{}', 0)" }

    /// A statement that fails after one of its rows was seen (SQLite undoes the statement, the transaction goes on):
    /// the row that never was is not logged, as a trigger's row was undone with it.
    @Test func aStatementSQLiteUndoesLogsNothing() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            _ = try SQLRunStore(bus: try EmbeddedBus(database: file))
            try await file.transaction { db in
                _ = try? db.query(
                    "INSERT INTO runs (id, workflow, status, event_id, trigger_event, started_at) VALUES "
                        + Self.runRow("run-x") + ", " + Self.runRow("run-x"))
                try db.query(
                    "INSERT INTO runs (id, workflow, status, event_id, trigger_event, started_at) VALUES "
                        + Self.runRow("run-y"))
            }
            #expect(try await Self.logged(file) == ["run - - - running"])
            let runs = try await file.read { db in try db.query("SELECT id FROM runs") }
            #expect(runs == [[.text("run-y")]])
        }
    }

    /// A change made outside a transaction is logged at once, in a transaction of its own: a next transaction that
    /// rolls back does not take it along.
    @Test func aChangeMadeOutsideATransactionIsLoggedAtOnce() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            let before = try await Self.logged(file).count
            try file.syncExecute("UPDATE runs SET status = 'failed' WHERE id = 'run-1'")
            struct Refused: Error {}
            await #expect(throws: Refused.self) { try await file.transaction { _ in throw Refused() } }
            #expect(try await Self.logged(file, after: Int64(before)) == ["run - - - failed"])
        }
    }

    /// A process of an earlier version on the same file re-creates its triggers: while they are there they write
    /// the log, and this version's recorder writes nothing (each change logged once); once they are gone, it logs
    /// again.
    @Test func whileAnEarlierVersionsTriggersAreThereEachChangeIsLoggedOnce() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            let earlier = try SQLiteDatabase(path: file.path)
            try earlier.syncExecute(
                """
                CREATE TRIGGER IF NOT EXISTS run_changes_run_added AFTER INSERT ON runs BEGIN
                    INSERT INTO run_changes (at, run_id, kind, status) VALUES (0, NEW.id, 'run', NEW.status);
                END;
                """)
            let created = try await store.transaction(acknowledging: []) { tx in
                (try tx.createRun(id: "run-2", workflow: "w", event: SQLRunStoreTests.event), [])
            }
            #expect(created)
            #expect(try await Self.logged(file) == ["run - - - running"])
            try earlier.syncExecute("DROP TRIGGER run_changes_run_added")
            _ = try await store.transaction(acknowledging: []) { tx in
                (try tx.finishRun(id: "run-2", status: .succeeded, error: nil), [])
            }
            #expect(try await Self.logged(file) == ["run - - - running", "run - - - succeeded"])
        }
    }

    /// An item's index and attempt, and each change's time: its transaction's commit.
    @Test func anItemsIndexAndAttemptAndEachChangesTimeAreLogged() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            let start = RunTime.now()
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            _ = try await store.transaction(acknowledging: []) { tx in
                try tx.addItems(runID: "run-1", stepID: "c", items: [1, 2])
                try tx.startItem(jobID: "run-1/c[1]/1", input: [:])
                return ((), [])
            }
            let end = RunTime.now()
            #expect(try await Self.logged(file).last == "item c 1 1 running")
            let changes = try await store.changes(after: 0, runID: nil, limit: 100)
            #expect(!changes.isEmpty && changes.allSatisfy { (start...end).contains($0.at) })
        }
    }

    /// `relay bench --sqlite-alone` replays what the connection ran: the log's INSERTs are in it (a replay has no
    /// hook), so the replay writes the same log.
    @Test func theChangeLogIsRecordedAndReplayed() async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let log = SQLiteStatementLog()
            file.record(into: log)
            let store = try SQLRunStore(bus: try EmbeddedBus(database: file))
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            file.record(into: nil)
            let path = file.path + ".replay"
            _ = try log.replay(into: path)
            let expected = try await Self.logged(file)
            #expect(expected.count == 4)
            #expect(try await Self.logged(try SQLiteDatabase(path: path)) == expected)
        }
    }
}
