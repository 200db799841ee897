import CSQLite
import Testing

@testable import RelayTransport

/// The connection's prepared statements, found by their text: through the recent slots (by where a text's bytes
/// are) or by the text itself, never a statement for another text, and never one finalized.
@Suite struct SQLiteStatementCacheTests {
    @Test func aStatementIsAlwaysTheOneForItsTextEvenPastTheCachesCapacity() throws {
        let handle = try SQLiteDatabase.open(":memory:", flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        defer { sqlite3_close_v2(handle) }
        let cache = SQLiteStatementCache()
        defer { cache.finalizeAll() }
        func text(of statement: OpaquePointer) -> String { String(cString: sqlite3_sql(statement)) }
        // Texts made at run time (each a new string: new bytes somewhere else), twice the cache's capacity: the
        // cache empties itself on the way, and the recent slots are reused by texts of other statements.
        let literal = "SELECT 'a literal, the same bytes every time'"
        #expect(text(of: try cache.statement(for: literal, on: handle)) == literal)
        for round in 0..<2 {
            for index in 0..<(cache.capacity * 2) {
                let sql = "SELECT \(index) AS n -- \(String(repeating: "x", count: index % 7 + 20))"
                let statement = try cache.statement(for: sql, on: handle)
                #expect(text(of: statement) == sql, "round \(round)")
                // The same text again, as another string: the same statement, unless the cache emptied meanwhile.
                let again = try cache.statement(for: String(sql.utf8.map { Character(UnicodeScalar($0)) }), on: handle)
                #expect(again == statement)
            }
            // The literal's slot was taken by others and the cache emptied: found again, prepared anew if need be.
            #expect(text(of: try cache.statement(for: literal, on: handle)) == literal)
        }
    }
}
