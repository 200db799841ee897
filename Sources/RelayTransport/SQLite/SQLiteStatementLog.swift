import CSQLite
import Foundation
import RelayCore
import Synchronization

/// Every statement a database's connection runs while the log is attached (`SQLiteDatabase.record(into:)`), with its
/// bound values and its place among BEGIN and COMMIT, so that the same work can be done again by SQLite alone
/// (`replay`): what the file's writes cost without the code around them. `relay bench --sqlite-alone` records a
/// burst and replays it (docs/benchmarks.md: what SQLite allows).
///
/// Recording costs a little in the connection's hands (an append per statement); the log keeps every value bound,
/// so it is for benchmarks, not for a pipeline left running.
public final class SQLiteStatementLog: Sendable {
    enum Kind: Sendable {
        /// Through `SQLiteConnection.query`.
        case statement
        /// BEGIN, COMMIT (prepared, not counted as statements: `SQLiteConnection.control`).
        case control
        /// A script of statements, `SQLiteConnection.execute` (the schema, ROLLBACK).
        case script
    }

    struct Entry: Sendable {
        var kind: Kind
        /// The entry's SQL text in `texts`.
        var text: Int
        var values: [SQLiteConnection.Value]
    }

    private struct Log {
        var texts: [String] = []
        var indexOfText: [String: Int] = [:]
        var entries: [Entry] = []
        /// Where `mark` was called last (nil: never): `replay` times what follows.
        var mark: Int?
        /// Nothing more is recorded (`stop`).
        var stopped = false
    }

    private let log = Mutex(Log())

    public init() {}

    func append(_ kind: Kind, _ sql: String, _ values: [SQLiteConnection.Value]) {
        log.withLock { log in
            guard !log.stopped else { return }
            let text: Int
            if let known = log.indexOfText[sql] {
                text = known
            } else {
                text = log.texts.count
                log.texts.append(sql)
                log.indexOfText[sql] = text
            }
            log.entries.append(Entry(kind: kind, text: text, values: values))
        }
    }

    /// From here on, what `replay` times (what comes before sets the file up: its schema, its first rows).
    public func mark() { log.withLock { $0.mark = $0.entries.count } }

    /// Records nothing more (a transaction under way is replayed as far as it was recorded).
    public func stop() { log.withLock { $0.stopped = true } }

    /// The texts of the statements recorded since the mark, in order (BEGIN and COMMIT not included, as in
    /// `SQLiteCounts.statements`).
    public var statementTextsSinceMark: [String] {
        log.withLock { log in
            log.entries[(log.mark ?? 0)...].filter { $0.kind == .statement }.map { log.texts[$0.text] }
        }
    }

    /// What a replay took.
    public struct Replayed: Sendable {
        /// Statements and transactions (COMMITs) replayed after the mark.
        public var statements: Int
        public var transactions: Int
        /// Wall-clock and CPU seconds of the replay after the mark.
        public var seconds: Double
        public var cpuSeconds: Double
        /// Each statement text replayed after the mark, BEGIN and COMMIT included: how many times, and the
        /// wall-clock seconds SQLite took for them (bind, step through the rows, reset; a COMMIT's write of the
        /// WAL), read on the monotonic clock around each, most first.
        public var byStatement: [(sql: String, count: Int, seconds: Double)]
    }

    /// Runs what was recorded again, on a new file at `path` (replaced if it exists) opened as `SQLiteDatabase`
    /// opens one, on this thread, each statement prepared once and reset after use: SQLite alone doing what the
    /// recorded connection did, in the same transactions. Timed from the mark. WAL checkpoints are left out (SQLite's
    /// automatic ones are turned off; a pipeline runs them on another thread, `SQLiteCheckpointer`). Fails on the
    /// first statement that does not run as it did (a recording that began on a file that already had rows).
    public func replay(into path: String) throws -> Replayed {
        let (texts, entries, mark) = log.withLock { ($0.texts, $0.entries, $0.mark ?? 0) }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let handle = try SQLiteDatabase.open(
            path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)
        defer { sqlite3_close_v2(handle) }
        let statements = SQLiteStatementCache()
        defer { statements.finalizeAll() }
        let connection = SQLiteConnection(handle: handle, statements: statements)
        try connection.execute(SQLiteDatabase.pragmas + "; PRAGMA wal_autocheckpoint=0")
        // Every text and blob bound, copied once into one block beforehand and bound from there without a copy
        // (SQLITE_STATIC): the replay's own work per value is a pointer and a length.
        let bytes = entries.reduce(0) { total, entry in
            entry.values.reduce(total) { total, value in
                switch value {
                case .text(let text): total + text.utf8.count
                case .blob(let blob): total + blob.count
                default: total
                }
            }
        }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes), alignment: 8)
        defer { block.deallocate() }
        var used = 0
        func copied<C: Collection<UInt8>>(_ source: C, text: Bool) -> Bound {
            let start = used
            for byte in source {
                block[used] = byte
                used += 1
            }
            return .bytes(UnsafeRawBufferPointer(rebasing: block[start..<used]), text: text)
        }
        let bound: [[Bound]] = entries.map { entry in
            entry.values.map { value in
                switch value {
                case .null: .null
                case .int(let int): .int(int)
                case .double(let double): .double(double)
                case .text(let text): copied(text.utf8, text: true)
                case .blob(let blob): copied(blob, text: false)
                }
            }
        }
        var replayed = Replayed(statements: 0, transactions: 0, seconds: 0, cpuSeconds: 0, byStatement: [])
        var byText = [(count: Int, nanoseconds: Int)](repeating: (0, 0), count: texts.count)
        var start = (wall: SQLiteCounters.now(CLOCK_MONOTONIC), cpu: SQLiteCounters.now(CLOCK_THREAD_CPUTIME_ID))
        for (index, entry) in entries.enumerated() {
            if index == mark {
                start = (SQLiteCounters.now(CLOCK_MONOTONIC), SQLiteCounters.now(CLOCK_THREAD_CPUTIME_ID))
            }
            let sql = texts[entry.text]
            switch entry.kind {
            case .script: try connection.execute(sql)
            case .control, .statement:
                let started = SQLiteCounters.now(CLOCK_MONOTONIC)
                if entry.kind == .control {
                    try connection.control(sql)
                } else {
                    try Self.run(try statements.statement(for: sql, on: handle), bound[index], sql, handle)
                }
                if index >= mark {
                    byText[entry.text].count += 1
                    byText[entry.text].nanoseconds += SQLiteCounters.now(CLOCK_MONOTONIC) - started
                }
            }
            guard index >= mark else { continue }
            if entry.kind == .statement { replayed.statements += 1 }
            if entry.kind == .control && sql == "COMMIT" { replayed.transactions += 1 }
        }
        replayed.seconds = Double(SQLiteCounters.now(CLOCK_MONOTONIC) - start.wall) / 1e9
        replayed.cpuSeconds = Double(SQLiteCounters.now(CLOCK_THREAD_CPUTIME_ID) - start.cpu) / 1e9
        replayed.byStatement = zip(texts, byText).filter { $0.1.count > 0 }
            .map { (sql: $0.0, count: $0.1.count, seconds: Double($0.1.nanoseconds) / 1e9) }
            .sorted { $0.seconds > $1.seconds }
        return replayed
    }

    /// A value to bind, its text or blob in the replay's block.
    private enum Bound {
        case null
        case int(Int64)
        case double(Double)
        case bytes(UnsafeRawBufferPointer, text: Bool)
    }

    /// Binds, steps through the rows (each column's value read, not converted), resets.
    private static func run(_ statement: OpaquePointer, _ values: [Bound], _ sql: String, _ handle: OpaquePointer)
        throws
    {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, position)
            case .int(let int): sqlite3_bind_int64(statement, position, int)
            case .double(let double): sqlite3_bind_double(statement, position, double)
            case .bytes(let bytes, text: true):
                SQLiteConnection.bindText(bytes, at: position, of: statement, copied: false)
            case .bytes(let bytes, text: false):
                sqlite3_bind_blob(
                    statement, position, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), nil)
            }
        }
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return }
            guard step == SQLITE_ROW else {
                throw RelayError(.io, "SQLite replay: \(String(cString: sqlite3_errmsg(handle))) in \(sql.prefix(80))")
            }
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_TEXT: _ = sqlite3_column_text(statement, column)
                case SQLITE_BLOB: _ = sqlite3_column_blob(statement, column)
                default: _ = sqlite3_column_int64(statement, column)
                }
            }
        }
    }
}
