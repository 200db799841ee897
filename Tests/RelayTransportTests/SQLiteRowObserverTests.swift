import Foundation
import RelayCore
import Synchronization
import Testing

@testable import RelayTransport

/// The connection's pre-update hook as `SQLiteRowObserver` sees it: only the tables it names, of the main database;
/// an update's change of a column as SQLite compares stored values; what it writes before COMMIT is in the
/// transaction, and forgotten on ROLLBACK.
@Suite struct SQLiteRowObserverTests {
    /// Keeps, for each row of `t` or `u` about to change, the table, the operation, `v`'s new value (not for a
    /// delete) and whether `v` changes; writes how many it saw into `seen` at each COMMIT.
    final class Observer: SQLiteRowObserver, @unchecked Sendable {
        let tables = ["t", "u"]
        var rows: [String] = []
        let committed = Mutex<[[String]]>([])
        let rollbacks = Atomic<Int>(0)

        func rowWillChange(_ change: SQLiteRowChange) {
            let changes = change.changes(1)
            let value = change.operation == .delete ? "" : change.newText(1) ?? "NULL"
            rows.append("\(tables[change.table]) \(change.operation) \(value) \(changes)")
        }

        func willCommit(_ connection: SQLiteConnection) throws {
            let rows = self.rows
            try connection.run("INSERT INTO seen (n) VALUES (?)") { values in values.bind(Int64(rows.count)) }
            committed.withLock { $0.append(rows) }
            self.rows = []
        }

        func rolledBack() {
            rows = []
            rollbacks.add(1, ordering: .relaxed)
        }

        var savepoint: Int { rows.count }

        func rollBack(to savepoint: Int) { rows.removeSubrange(savepoint...) }
    }

    @Test func theObserverSeesItsTablesRowsAndWritesInTheTransaction() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-hook-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("db.sqlite").path)
        try database.syncTransaction { db in
            try db.execute(
                """
                CREATE TABLE t (id INTEGER PRIMARY KEY, v);
                CREATE TABLE u (id INTEGER PRIMARY KEY, v);
                CREATE TABLE other (id INTEGER PRIMARY KEY, v);
                CREATE TABLE seen (n INTEGER);
                """)
        }
        let observer = Observer()
        database.observeRowChanges(observer)
        try await database.transaction { db in
            try db.query("INSERT INTO t (id, v) VALUES (1, NULL), (2, 1), (3, 'a'), (4, x'00ff')")
            try db.query("INSERT INTO other (id, v) VALUES (1, 1)")
            try db.query("UPDATE t SET v = NULL WHERE id = 1")
            try db.query("UPDATE t SET v = 1 WHERE id = 2")
            try db.query("UPDATE t SET v = '1' WHERE id = 2")
            try db.query("UPDATE t SET v = 'b' WHERE id = 3")
            try db.query("UPDATE t SET v = x'00ff' WHERE id = 4")
            try db.query("UPDATE other SET v = 2")
            try db.query("INSERT INTO u (id, v) VALUES (1, 2.5)")
            try db.query("DELETE FROM t WHERE id = 1")
            // A statement that fails on its second row: SQLite undoes it, and the observer forgets its first.
            #expect(throws: RelayError.self) { try db.query("INSERT INTO u (id, v) VALUES (7, 7), (1, 1)") }
            // A temporary table of the same name is not the main database's.
            try db.execute("CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, v)")
            try db.query("INSERT INTO temp.t (id, v) VALUES (1, 'temp')")
            try db.execute("DROP TABLE temp.t")
        }
        #expect(
            observer.committed.withLock { $0 } == [
                [
                    "t insert NULL true", "t insert 1 true", "t insert a true", "t insert \u{0}\u{FFFD} true",
                    "t update NULL false", "t update 1 false", "t update 1 true", "t update b true",
                    "t update \u{0}\u{FFFD} false", "u insert 2.5 true", "t delete  true",
                ]
            ])

        // Rolled back: what it kept is forgotten, and nothing of it is written by the next transaction.
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await database.transaction { db in
                try db.query("INSERT INTO t (id, v) VALUES (9, 9)")
                throw Refused()
            }
        }
        #expect(observer.rollbacks.load(ordering: .relaxed) >= 1)
        try await database.transaction { db in try db.query("INSERT INTO u (id, v) VALUES (2, 'x')") }
        #expect(observer.committed.withLock { $0.last } == ["u insert x true"])
        let seen = try await database.read { db in try db.query("SELECT n FROM seen") }
        #expect(seen == [[.int(11)], [.int(1)]])

        // Outside a transaction: written at once, in a transaction of its own.
        try database.syncExecute("INSERT INTO t (id, v) VALUES (11, 'alone')")
        #expect(observer.committed.withLock { $0.last } == ["t insert alone true"])
        let written = try await database.read { db in try db.query("SELECT COUNT(*) FROM seen") }
        #expect(written == [[.int(3)]])

        // Removed: nothing more is seen.
        database.observeRowChanges(nil)
        try await database.transaction { db in try db.query("INSERT INTO t (id, v) VALUES (10, 10)") }
        #expect(observer.committed.withLock { $0.count } == 3)
    }
}
