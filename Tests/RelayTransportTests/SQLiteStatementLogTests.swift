import Foundation
import RelayCore
import Testing

@testable import RelayTransport

@Suite struct SQLiteStatementLogTests {
    /// What a connection ran while recording, replayed on a new file, makes the same file: the schema, every row
    /// with its values of each kind, in the same transactions; only what follows the mark is counted.
    @Test func aReplayMakesTheSameRowsInTheSameTransactions() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("db.sqlite").path)
        let log = SQLiteStatementLog()
        database.record(into: log)
        try database.syncTransaction { db in
            try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, note TEXT)")
        }
        log.mark()
        for batch in 0..<3 {
            try await database.transaction { db in
                for row in 0..<4 {
                    let id = Int64(batch * 4 + row)
                    try db.query(
                        "INSERT INTO t (id, name, score, data, note) VALUES (?, ?, ?, ?, ?)",
                        [.int(id), .text("row \(id) ✓"), .double(Double(id) / 3), .blob([UInt8(id), 0, 255]), .null])
                }
                try db.query("UPDATE t SET note = ? WHERE id = ?", [.text(""), .int(Int64(batch * 4))])
            }
        }
        _ = try await database.read { db in try db.query("SELECT COUNT(*) FROM t") }
        database.record(into: nil)
        // Not recorded: after recording stopped.
        try await database.transaction { db in try db.query("DELETE FROM t WHERE id = 0") }

        #expect(log.statementTextsSinceMark.count == 3 * 5 + 1)
        #expect(log.statementTextsSinceMark.last == "SELECT COUNT(*) FROM t")
        let replayPath = directory.appendingPathComponent("replay.sqlite").path
        let replayed = try log.replay(into: replayPath)
        #expect(replayed.statements == 16)
        #expect(replayed.transactions == 3)
        #expect(replayed.seconds > 0 && replayed.cpuSeconds > 0)
        // By statement: each text once, with how many times it ran after the mark (BEGIN and COMMIT included), the
        // time taken most first, and within the replay's.
        let counts = Dictionary(uniqueKeysWithValues: replayed.byStatement.map { ($0.sql, $0.count) })
        #expect(counts.count == 5)
        #expect(counts["INSERT INTO t (id, name, score, data, note) VALUES (?, ?, ?, ?, ?)"] == 12)
        #expect(counts["UPDATE t SET note = ? WHERE id = ?"] == 3)
        #expect(counts["SELECT COUNT(*) FROM t"] == 1)
        #expect(counts["COMMIT"] == 3)
        #expect(counts["BEGIN IMMEDIATE"] == 3)
        #expect(replayed.byStatement.map(\.seconds) == replayed.byStatement.map(\.seconds).sorted(by: >))
        #expect(replayed.byStatement.allSatisfy { $0.seconds > 0 })
        #expect(replayed.byStatement.reduce(0) { $0 + $1.seconds } <= replayed.seconds)

        let query = "SELECT id, name, score, hex(data), note, typeof(note) FROM t ORDER BY id"
        let replica = try SQLiteDatabase(path: replayPath)
        let replayedRows = try await replica.read { db in try db.query(query) }
        #expect(replayedRows.count == 12)
        #expect(replayedRows[0] == [.int(0), .text("row 0 ✓"), .double(0), .text("0000FF"), .text(""), .text("text")])
        #expect(replayedRows[1][4] == .null)
        // The original, but for the row deleted after recording stopped.
        let original = try await database.read { db in try db.query(query) }
        #expect(Array(replayedRows.dropFirst()) == original)
    }

    /// A recording that does not start from an empty file cannot be replayed on one: the replay stops at the first
    /// statement that fails, and says which.
    @Test func aReplayThatCannotRunTheSameStatementsFails() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("db.sqlite").path)
        try database.syncTransaction { db in try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)") }
        let log = SQLiteStatementLog()
        database.record(into: log)
        try await database.transaction { db in try db.query("INSERT INTO t (id) VALUES (?)", [.int(1)]) }
        let error = #expect(throws: RelayError.self) {
            try log.replay(into: directory.appendingPathComponent("replay.sqlite").path)
        }
        #expect(error?.message.contains("no such table: t") == true)
    }
}
