import Foundation
import RelayCore
import RelayTestSupport
import Testing

@testable import RelayTransport

@Suite struct SQLiteDatabaseTests {
    /// Checkpoints run on their own thread, and the WAL still starts over: after many more pages than the mark
    /// have been written, the WAL file is bounded, and the database file has the rows.
    @Test func theWALIsCheckpointedOffTheQueueAndStaysBounded() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db.sqlite").path
        let database = try SQLiteDatabase(path: path)
        try database.syncTransaction { db in try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)") }
        // 4,000 transactions of ten 3 KiB rows each: about 40,000 WAL frames, ten times the restart mark.
        let blob = [UInt8](repeating: 7, count: 3000)
        for batch in 0..<4000 {
            try await database.transaction { db in
                for row in 0..<10 {
                    try db.query("INSERT INTO t (id, v) VALUES (?, ?)", [.int(Int64(batch * 10 + row)), .blob(blob)])
                }
            }
        }
        #expect(database.checkpointPasses > 0, "the checkpoint thread copied pages back")
        let walBytes = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? -1
        // The WAL starts over near 4,000 frames, and at 16,000 at the latest (when the checkpoint thread cannot
        // keep up, the writer copies the rest itself): 4 KiB pages and a 24-byte header each.
        #expect(walBytes > 0 && walBytes < 16_100 * 4120, "WAL of \(walBytes) bytes")
        // Another connection reads every row (from the database file and the WAL).
        let reader = try SQLiteDatabase(path: path)
        let rows = try await reader.read { db in try db.query("SELECT COUNT(*) FROM t").first?.first?.int }
        #expect(rows == 40_000)
    }

    /// A transaction that finds another process writing does not fail and does not wait on the caller's thread: it
    /// waits on the database's queue, and commits once the other has.
    @Test func aTransactionWaitsOnItsQueueWhileAnotherProcessWrites() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-busy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db.sqlite").path
        // (It waits on the queue as long as the test may take to see it there: with the default 10 s, a test phase
        // that kept this test from running for longer saw the wait time out instead.)
        let database = try SQLiteDatabase(path: path, busyTimeoutMilliseconds: 600_000)
        try database.syncTransaction { db in try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)") }
        let other = try SQLiteDatabase(path: path)
        try other.syncExecute("BEGIN IMMEDIATE")
        let insert = Task { try await database.transaction { db in try db.query("INSERT INTO t (id) VALUES (1)") } }
        #expect(await waitFor { database.queuedWork.load(ordering: .relaxed) == 1 }, "queued behind the other writer")
        try other.syncExecute("INSERT INTO t (id) VALUES (2)")
        try other.syncExecute("COMMIT")
        _ = try await insert.value
        let rows = try await database.read { db in try db.query("SELECT id FROM t ORDER BY id").map { $0[0].int } }
        #expect(rows == [1, 2])
    }

    /// A text is bound and read back by its length, exactly: empty, small, long, non-ASCII, and with a NUL inside
    /// (a C string would have stopped there), as values and as the key a row is found by.
    @Test func textsGoInAndComeBackExactly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-text-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("db.sqlite").path)
        let texts = [
            "", "a", "run-0123456789abcdef/step/1", String(repeating: "long text ", count: 500), "naïve — 日本語 🎉",
            "before\u{0}after", "\u{0}",
        ]
        try database.syncTransaction { db in
            try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            for (index, text) in texts.enumerated() {
                try db.query("INSERT INTO t (k, v) VALUES (?, ?)", [.text("k\(index)" + text), .text(text)])
            }
            for (index, text) in texts.enumerated() {
                let found = try db.query(
                    "SELECT v, length(CAST(v AS BLOB)) FROM t WHERE k = ?", [.text("k\(index)" + text)])
                #expect(found.first?[0] == .text(text), "text \(index)")
                #expect(found.first?[1] == .int(Int64(text.utf8.count)), "text \(index): its bytes, all stored")
            }
            // An empty text is a text, not NULL.
            #expect(try db.query("SELECT COUNT(*) FROM t WHERE v = ''").first?[0] == .int(1))
        }
    }
}
