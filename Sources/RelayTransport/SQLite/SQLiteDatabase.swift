import CSQLite
import Dispatch
import Foundation
import RelayCore
import Synchronization

/// One SQLite database file (WAL mode), used from a dedicated serial queue: blocking SQLite calls never run on
/// Swift's cooperative pool. Several processes may open the same file; SQLite's locking keeps them consistent.
public final class SQLiteDatabase: @unchecked Sendable {
    // @unchecked Sendable: `handle` is only used on `queue`, a serial DispatchQueue (the blocking `sync…` calls go
    // through `queue.sync`); `init` sets it and `deinit` closes it while no other thread can reach the object.
    // SQLITE_OPEN_FULLMUTEX alone would not be enough: it serialises single calls, but the connection and its
    // transaction are shared, so statements from two threads would interleave inside each other's BEGIN … COMMIT.
    private var handle: OpaquePointer?
    /// The prepared statements of `handle`, reused: only on `queue`, like the handle.
    private let statements = SQLiteStatementCache()
    /// WAL checkpoints on a second connection and thread instead of inside a COMMIT (nil for a database in memory).
    private let checkpointer: SQLiteCheckpointer?
    private let queue: DispatchQueue
    public let path: String

    public init(path: String) throws {
        self.path = path
        queue = DispatchQueue(label: "relay.sqlite")
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var db: OpaquePointer?
        // sqlite3_open_v2 allocates the handle even on failure; it must be closed either way.
        let status = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw RelayError(.io, "\(path): cannot open the database: \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 10_000)
        let inMemory = path == ":memory:" || path.isEmpty
        do {
            try SQLiteConnection(handle: db, statements: statements).execute(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON")
            checkpointer = inMemory ? nil : try SQLiteCheckpointer(path: path)
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
        checkpointer?.hook(db)
    }

    deinit {
        if let handle { checkpointer?.unhook(handle) }
        checkpointer?.close()
        statements.finalizeAll()
        sqlite3_close_v2(handle)
    }

    /// Passes of this database's checkpoint thread so far (for tests).
    var checkpointPasses: Int { checkpointer?.passes.load(ordering: .relaxed) ?? 0 }

    /// What every database of the process has done so far (for `relay bench`: transactions and statements per step).
    public static var counts: SQLiteCounts {
        SQLiteCounts(
            transactions: counters.transactions.load(ordering: .relaxed),
            reads: counters.reads.load(ordering: .relaxed),
            statements: counters.statements.load(ordering: .relaxed),
            checkpoints: counters.checkpoints.load(ordering: .relaxed),
            writerCheckpoints: counters.writerCheckpoints.load(ordering: .relaxed))
    }
    static let counters = SQLiteCounters()

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error) on the database queue.
    /// `afterCommit` runs on the database queue once COMMIT has succeeded, before anything queued after the
    /// transaction (a read queued next sees what it sees).
    public func transaction<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws -> T, afterCommit: (@Sendable (T) -> Void)? = nil
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let result = Result { try self.onQueueTransaction(body) }
                if case .success(let value) = result { afterCommit?(value) }
                continuation.resume(with: result)
            }
        }
    }

    /// Reads without a write lock.
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                SQLiteDatabase.counters.reads.add(1, ordering: .relaxed)
                continuation.resume(
                    with: Result { try body(SQLiteConnection(handle: self.handle!, statements: self.statements)) })
            }
        }
    }

    /// The same as `transaction`, blocking the caller (for set-up and for tests). It waits for the work queued
    /// before it; calling it from inside `transaction` or `read` would deadlock, and traps instead.
    public func syncTransaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        dispatchPrecondition(condition: .notOnQueue(queue))
        return try queue.sync { try onQueueTransaction(body) }
    }

    /// Executes `sql` outside any transaction, blocking the caller; not from inside `transaction` or `read`.
    public func syncExecute(_ sql: String) throws {
        dispatchPrecondition(condition: .notOnQueue(queue))
        try queue.sync { try SQLiteConnection(handle: handle!, statements: statements).execute(sql) }
    }

    /// BEGIN IMMEDIATE, `body`, COMMIT (ROLLBACK on error). On `queue` only.
    private func onQueueTransaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let connection = SQLiteConnection(handle: handle!, statements: statements)
        SQLiteDatabase.counters.transactions.add(1, ordering: .relaxed)
        try connection.control("BEGIN IMMEDIATE")
        do {
            let value = try body(connection)
            try connection.control("COMMIT")
            return value
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }
}

/// Statements on an open database; valid only inside `transaction` or `read`.
public struct SQLiteConnection {
    let handle: OpaquePointer
    let statements: SQLiteStatementCache

    public enum Value: Sendable, Equatable {
        case null
        case int(Int64)
        case double(Double)
        case text(String)
        case blob([UInt8])

        public var int: Int64? {
            if case .int(let v) = self { return v }
            return nil
        }
        public var text: String? {
            if case .text(let v) = self { return v }
            return nil
        }
        public var blob: [UInt8]? {
            switch self {
            case .blob(let v): return v
            case .text(let v): return Array(v.utf8)
            default: return nil
            }
        }
    }

    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        // sqlite3_exec allocates the error message with sqlite3_malloc: free it with sqlite3_free.
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw RelayError(.io, "SQLite: \(message) in \(sql.prefix(80))")
        }
    }

    /// BEGIN or COMMIT, prepared once (`execute` would parse it at every transaction); not counted as a statement.
    func control(_ sql: String) throws {
        let statement = try statements.statement(for: sql, on: handle)
        let status = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard status == SQLITE_DONE else {
            throw RelayError(
                .io, "SQLite: \(String(cString: sqlite3_errmsg(handle))) in \(sql)", isRetriable: status == SQLITE_BUSY)
        }
    }

    /// Runs a statement with bound values; returns the rows.
    @discardableResult
    public func query(_ sql: String, _ values: [Value] = []) throws -> [[Value]] {
        let statement = try statements.statement(for: sql, on: handle)
        SQLiteDatabase.counters.statements.add(1, ordering: .relaxed)
        // Reset after use, whatever happens: a statement left stepping would hold its read snapshot open.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, position)
            case .int(let v): sqlite3_bind_int64(statement, position, v)
            case .double(let v): sqlite3_bind_double(statement, position, v)
            case .text(let v): relay_sqlite3_bind_text(statement, position, v, -1)
            case .blob(let v):
                v.withUnsafeBytes { relay_sqlite3_bind_blob(statement, position, $0.baseAddress, Int32(v.count)) }
            }
        }
        var rows: [[Value]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else {
                throw RelayError(
                    .io, "SQLite: \(String(cString: sqlite3_errmsg(handle))) in \(sql.prefix(80))",
                    isRetriable: step == SQLITE_BUSY)
            }
            var row: [Value] = []
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: row.append(.double(sqlite3_column_double(statement, column)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(statement, column))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    if let pointer = sqlite3_column_blob(statement, column) {
                        row.append(.blob(Array(UnsafeRawBufferPointer(start: pointer, count: count))))
                    } else {
                        row.append(.blob([]))
                    }
                default: row.append(.null)
                }
            }
            rows.append(row)
        }
        return rows
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// Prepared statements by SQL text, kept for the connection's life: the pipeline runs the same few dozen statements
/// over and over, and preparing one (parsing, planning, compiling the triggers of the tables it writes) costs more
/// than running it. Bounded: past `capacity` distinct texts, a new statement replaces the cache's content.
/// Statements are reset after each use (`SQLiteConnection.query`); SQLite re-prepares one by itself when the
/// schema changes.
final class SQLiteStatementCache: @unchecked Sendable {
    // @unchecked Sendable: used only on the database's serial queue, like the connection handle it belongs to.
    private var statements: [String: OpaquePointer] = [:]
    let capacity = 256

    func statement(for sql: String, on handle: OpaquePointer) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        // SQLITE_PREPARE_PERSISTENT: the statement is kept and reused, so SQLite allocates it for a long life.
        guard
            sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
            let statement
        else {
            // A failed prepare leaves `statement` nil; nothing to finalize.
            throw RelayError(.io, "SQLite: \(String(cString: sqlite3_errmsg(handle))) in \(sql.prefix(80))")
        }
        if statements.count >= capacity { finalizeAll() }
        statements[sql] = statement
        return statement
    }

    /// Finalizes every statement (before closing the connection, or when the cache is full).
    func finalizeAll() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
    }
}

/// Counts of `SQLiteDatabase.counts`: write transactions, read-only batches (`read`), statements run through
/// `query` (BEGIN and COMMIT not included), and WAL checkpoints (on the checkpoint thread, and by a writer itself
/// when that thread had fallen behind).
public struct SQLiteCounts: Sendable {
    public var transactions: Int
    public var reads: Int
    public var statements: Int
    public var checkpoints: Int
    public var writerCheckpoints: Int

    public init(transactions: Int, reads: Int, statements: Int, checkpoints: Int = 0, writerCheckpoints: Int = 0) {
        self.transactions = transactions
        self.reads = reads
        self.statements = statements
        self.checkpoints = checkpoints
        self.writerCheckpoints = writerCheckpoints
    }

    public static func - (lhs: SQLiteCounts, rhs: SQLiteCounts) -> SQLiteCounts {
        SQLiteCounts(
            transactions: lhs.transactions - rhs.transactions, reads: lhs.reads - rhs.reads,
            statements: lhs.statements - rhs.statements, checkpoints: lhs.checkpoints - rhs.checkpoints,
            writerCheckpoints: lhs.writerCheckpoints - rhs.writerCheckpoints)
    }
}

/// Relaxed atomic counters: an increment costs a few nanoseconds next to a statement's microseconds.
final class SQLiteCounters: Sendable {
    let transactions = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let statements = Atomic<Int>(0)
    let checkpoints = Atomic<Int>(0)
    let writerCheckpoints = Atomic<Int>(0)
}
