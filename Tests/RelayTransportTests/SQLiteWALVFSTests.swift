import CSQLite
import CSQLiteWAL
import Foundation
import RelayCore
import Testing

@testable import RelayTransport

/// The VFS every connection opens its file through (`relay_wal_vfs.h`): a transaction's WAL frames are written in
/// one system call, and every committed transaction is whole in the files when its COMMIT returns.
@Suite struct SQLiteWALVFSTests {
    /// A copy of the database and its WAL as they are on disk now, without the WAL index (`-shm`): opening it makes
    /// SQLite recover the index from the WAL file alone, which keeps a transaction only when every one of its frames
    /// is there with the checksums chained from the frame before. So what the copy reads is what a process started
    /// after a crash right now would read.
    static func copyOnDisk(_ path: String, into directory: URL) throws -> SQLiteDatabase {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let copy = directory.appendingPathComponent("copy.sqlite").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
        return try SQLiteDatabase(path: copy)
    }

    static func scratch(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("relay-walvfs-\(name)-\(UUID().uuidString)")
    }

    /// A new database in `directory` with the table the tests write, `t (id, v)`; with `cachePages`, a page cache
    /// that small (a transaction of more pages spills them to the WAL before its COMMIT).
    static func database(in directory: URL, cachePages: Int? = nil) throws -> (path: String, SQLiteDatabase) {
        let path = directory.appendingPathComponent("db.sqlite").path
        let database = try SQLiteDatabase(path: path)
        try database.syncTransaction { db in try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)") }
        if let cachePages { try database.syncExecute("PRAGMA cache_size=\(cachePages)") }
        return (path, database)
    }

    /// Rows `ids` of `t`, each `v` being `bytes` copies of `byte`.
    static func insert(_ ids: Range<Int>, byte: UInt8, bytes: Int, into db: SQLiteConnection) throws {
        for id in ids {
            try db.query(
                "INSERT INTO t (id, v) VALUES (?, ?)", [.int(Int64(id)), .blob([UInt8](repeating: byte, count: bytes))])
        }
    }

    /// Transactions of one page, of a few pages, and of more pages than one write holds (128 KiB): after each
    /// COMMIT, the files on disk hold it, and a transaction's frames went out in a few system calls, not two per page.
    @Test func eachCommitIsInTheFilesWhenItReturnsInAFewWrites() async throws {
        let directory = Self.scratch("commits")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, database) = try Self.database(in: directory)
        var rows = 0
        for (round, size) in [1, 12, 90, 1, 300, 5].enumerated() {
            let before = database.walWrites()
            try await database.transaction { [rows] db in
                try Self.insert(rows..<(rows + size), byte: UInt8(truncatingIfNeeded: round), bytes: 3000, into: db)
            }
            rows += size
            let after = database.walWrites()
            let given = after.given - before.given
            let made = after.made - before.made
            // About a page per row of 3,000 bytes (and the index pages): a frame's header and its page, two writes
            // given each; at most 31 frames of 4,120 bytes in one write.
            #expect(given >= 2 * size, "round \(round): \(given) writes given for \(size) rows")
            #expect(made <= 2 + given / 62, "round \(round): \(made) writes made of \(given) given")
            let copy = try Self.copyOnDisk(path, into: directory.appendingPathComponent("copy\(round)"))
            let found = try await copy.read { db in
                try db.query("SELECT COUNT(*), COALESCE(SUM(length(v)), 0) FROM t").first.map { ($0[0].int, $0[1].int) }
            }
            #expect(
                found?.0 == Int64(rows) && found?.1 == Int64(rows * 3000),
                "round \(round): \(String(describing: found))")
        }
        // Small transactions one after the other: each one's frames in one write (the first continues the last
        // commit's frames, kept with the rest), and at most a couple more (the WAL started over).
        let before = database.walWrites()
        for id in 10_000..<10_020 {
            try await database.transaction { db in try Self.insert(id..<(id + 1), byte: 7, bytes: 100, into: db) }
        }
        let made = database.walWrites().made - before.made
        #expect(made <= 20 + 2, "\(made) writes for 20 transactions")
    }

    /// A transaction larger than the connection's page cache writes pages to the WAL before it commits (a spill)
    /// and, when it changes such a page again, writes it again where it is and rewrites the frames' checksums at the
    /// COMMIT: writes that do not continue the ones before. The committed rows are still whole on disk, and the
    /// database intact.
    @Test func aTransactionThatSpillsAndRewritesItsPagesIsWholeOnDisk() async throws {
        let directory = Self.scratch("spill")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, database) = try Self.database(in: directory, cachePages: 16)
        let before = database.walWrites()
        try await database.transaction { db in
            try Self.insert(0..<400, byte: 1, bytes: 1500, into: db)
            // Every row again: the pages spilled above are changed a second time in the same transaction.
            try db.query("UPDATE t SET v = ?", [.blob([UInt8](repeating: 2, count: 1500))])
        }
        let after = database.walWrites()
        // (Dozens of pages rewritten in place, and their checksums; a restart of the WAL would be one such write.)
        #expect(after.elsewhere - before.elsewhere > 10, "pages were written again in place")
        let copy = try Self.copyOnDisk(path, into: directory.appendingPathComponent("copy"))
        let (count, changed, check) = try await copy.read { db in
            (
                try db.query("SELECT COUNT(*) FROM t").first?[0].int,
                try db.query("SELECT COUNT(*) FROM t WHERE v = ?", [.blob([UInt8](repeating: 2, count: 1500))])
                    .first?[0].int,
                try db.query("PRAGMA integrity_check").first?[0].text
            )
        }
        #expect(
            count == 400 && changed == 400 && check == "ok",
            "\(String(describing: count)) rows, \(String(describing: changed)) changed, \(String(describing: check))")
    }

    /// A transaction rolled back after it spilled leaves frames past the WAL's last commit; the next transaction
    /// writes over them. What is on disk is the committed rows only.
    @Test func aRolledBackSpillLeavesOnlyCommittedRowsOnDisk() async throws {
        let directory = Self.scratch("rollback")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, database) = try Self.database(in: directory, cachePages: 16)
        struct Abandon: Error {}
        await #expect(throws: Abandon.self) {
            try await database.transaction { db in
                try Self.insert(0..<300, byte: 9, bytes: 1500, into: db)
                throw Abandon()
            }
        }
        try await database.transaction { db in try Self.insert(1000..<1003, byte: 1, bytes: 1, into: db) }
        let copy = try Self.copyOnDisk(path, into: directory.appendingPathComponent("copy"))
        let ids = try await copy.read { db in try db.query("SELECT id FROM t ORDER BY id").map { $0[0].int } }
        #expect(ids == [1000, 1001, 1002])
    }

    /// In exclusive locking mode the WAL index is in the connection's memory: SQLite calls no shared-memory barrier
    /// or lock, so what writes a transaction's frames before its COMMIT returns is the VFS seeing the commit frame's
    /// page. The files on disk still hold every commit.
    @Test func inExclusiveLockingModeTheCommitFrameWritesTheTransaction() throws {
        let directory = Self.scratch("exclusive")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("db.sqlite").path
        // (Any connection of the project's registers the VFS.)
        sqlite3_close_v2(try SQLiteDatabase.open(":memory:", flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
        var handle: OpaquePointer?
        #expect(
            sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, relay_wal_vfs_name) == SQLITE_OK)
        let db = try #require(handle)
        defer { sqlite3_close_v2(db) }
        func run(_ sql: String) {
            var message: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(db, sql, nil, nil, &message)
            #expect(rc == SQLITE_OK, "\(sql.prefix(60)): \(message.map { String(cString: $0) } ?? "")")
            sqlite3_free(message)
        }
        run("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
        run("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        var rows = 0
        func counts() -> relay_wal_vfs_counts {
            var counts = relay_wal_vfs_counts()
            #expect(relay_wal_vfs_connection_counts(db, &counts) == SQLITE_OK)
            return counts
        }
        for (round, size) in [1, 40, 3].enumerated() {
            let before = counts()
            var inserts = "BEGIN;"
            for row in rows..<(rows + size) { inserts += "INSERT INTO t VALUES (\(row), zeroblob(3000));" }
            run(inserts + "COMMIT")
            rows += size
            let given = counts().writes_given - before.writes_given
            let made = counts().writes_made - before.writes_made
            #expect(given >= 2 * Int64(size) && made <= 2 + given / 62, "round \(round): \(made) of \(given)")
            let copy = try Self.copyOnDisk(path, into: directory.appendingPathComponent("copy\(round)"))
            let found = try copy.syncTransaction { db in try db.query("SELECT COUNT(*) FROM t").first?[0].int }
            #expect(found == Int64(rows), "round \(round)")
        }
    }
}
