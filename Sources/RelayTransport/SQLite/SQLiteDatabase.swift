import CSQLite
import CSQLiteWAL
import Dispatch
import Foundation
import RelayCore
import Synchronization

/// One SQLite database file (WAL mode) and its one connection, used by one thread at a time under a lock.
/// Several processes may open the same file; SQLite's locking keeps them consistent.
///
/// Where the work runs: a transaction or a read runs on the caller's thread when the connection is free and no other
/// process holds the file's write lock (asked with no wait) — then it is CPU work and writes to the OS's page cache
/// (with `synchronous=NORMAL` a commit does not sync; checkpoints run on their own thread), and the caller saves two
/// thread hops (to a database thread and back: most of the latency of a step that runs alone). Anything that has to
/// wait — for the connection, for another process's write lock (up to the busy timeout), for a checkpoint — waits
/// on the database's own serial queue, never on Swift's cooperative pool.
public final class SQLiteDatabase: @unchecked Sendable {
    // @unchecked Sendable: `handle` and `statements` are only used inside `lock` (`locked`); `init` sets the handle
    // and `deinit` closes it while no other thread can reach the object. SQLite's own mutex per connection
    // (SQLITE_OPEN_FULLMUTEX) would not be enough: it serialises single calls, but the connection and its transaction
    // are shared, so statements from two threads would interleave inside each other's BEGIN … COMMIT. With `lock`
    // doing it, the connection is opened without that mutex (SQLITE_OPEN_NOMUTEX): SQLite took and released it in
    // every call (each bind, step, column read and reset), 5-7 % of the time the connection is held in a burst.
    private var handle: OpaquePointer?
    /// The prepared statements of `handle`, reused: only inside `lock`, like the handle.
    private let statements = SQLiteStatementCache()
    /// WAL checkpoints on a second connection and thread instead of inside a COMMIT (nil for a database in memory).
    private let checkpointer: SQLiteCheckpointer?
    /// Held while the connection is used.
    private let lock = NSLock()
    /// The thread inside `lock` (0: none): a blocking call from inside a body would deadlock, and traps instead.
    private let owner = Atomic<UInt>(0)
    /// Where work that waits runs.
    private let queue: DispatchQueue
    /// Blocks queued on `queue` and not finished: while there are any, new work queues behind them rather than
    /// running on its caller's thread (first come, first served; a checkpoint the writer must run is not overtaken).
    let queuedWork = Atomic<Int>(0)
    /// The writer's own checkpoint (`SQLiteCheckpointer`) is queued, not yet run.
    private let writerCheckpointQueued = Atomic<Bool>(false)
    public let path: String
    /// Objects that belong with the connection, by name (`attachment`).
    private let attached = Mutex<[String: any AnyObject & Sendable]>([:])
    /// How the connection is set up: WAL, and a page cache of up to 16 MiB (SQLite's default is 2 MiB): the
    /// pipeline's working set (the indexes of runs, attempts, messages and deadlines in flight) outgrew the default in
    /// a burst of 10,000 runs, and every miss was a read of the file (measured: docs/benchmarks.md, issue #17's fourth
    /// round). With `synchronous=NORMAL` a commit does not sync (checkpoints do).
    static let pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384"

    /// How long a statement waits for another process's lock on the file, by default.
    static let busyTimeoutMilliseconds: Int32 = 10_000
    /// This connection's: the default but in tests that hold a lock until they have seen a statement wait for it.
    private let busyTimeout: Int32

    public convenience init(path: String) throws {
        try self.init(path: path, busyTimeoutMilliseconds: Self.busyTimeoutMilliseconds)
    }

    init(path: String, busyTimeoutMilliseconds: Int32) throws {
        busyTimeout = busyTimeoutMilliseconds
        self.path = path
        queue = DispatchQueue(label: "relay.sqlite")
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let db = try Self.open(path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)
        handle = db
        sqlite3_busy_timeout(db, busyTimeout)
        let inMemory = path == ":memory:" || path.isEmpty
        do {
            try SQLiteConnection(handle: db, statements: statements).execute(Self.pragmas)
            checkpointer = inMemory ? nil : try SQLiteCheckpointer(path: path)
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
        checkpointer?.hook(db) { [weak self] waitForThread in self?.queueWriterCheckpoint(waitForThread) }
    }

    /// The object named `name` that belongs with this connection, made by `make` the first time: shared by everything
    /// that uses the connection (a cache that only this connection's own writes keep true, for one).
    public func attachment<T: AnyObject & Sendable>(_ name: String, make: () -> T) -> T {
        attached.withLock { attached in
            if let object = attached[name] as? T { return object }
            let object = make()
            attached[name] = object
            return object
        }
    }

    /// SQLite set up for the process, once, before its first connection: without its memory statistics (which
    /// no one reads here, and which take a global mutex at every allocation SQLite makes), and with the VFS every
    /// connection opens its file through (`relay_wal_vfs.h`: a transaction's WAL frames written in one system call
    /// instead of two per page); nil, or why that VFS could not be registered.
    private static let configured: String? = {
        _ = relay_sqlite3_disable_memory_statistics()
        let rc = relay_wal_vfs_register()
        return rc == SQLITE_OK ? nil : String(cString: sqlite3_errstr(rc))
    }()

    /// A connection to `path` (`purpose`: what the error calls it), or the error SQLite gave. `firstStatement` runs
    /// on it before it is returned (a failure closes it).
    static func open(_ path: String, flags: Int32, purpose: String = "", firstStatement: String? = nil) throws
        -> OpaquePointer
    {
        if let problem = configured {
            throw RelayError(.io, "\(path): cannot open the database\(purpose): SQLite's VFS: \(problem)")
        }
        var db: OpaquePointer?
        // sqlite3_open_v2 allocates the handle even on failure; it must be closed either way.
        guard sqlite3_open_v2(path, &db, flags, relay_wal_vfs_name) == SQLITE_OK, let db,
            firstStatement.map({ sqlite3_exec(db, $0, nil, nil, nil) == SQLITE_OK }) ?? true
        else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw RelayError(.io, "\(path): cannot open the database\(purpose): \(message)")
        }
        return db
    }

    deinit {
        if let handle {
            checkpointer?.unhook(handle)
            relay_sqlite3_set_row_hook(handle, nil)
        }
        checkpointer?.close()
        statements.finalizeAll()
        sqlite3_close_v2(handle)
    }

    /// Passes of this database's checkpoint thread so far (for tests).
    var checkpointPasses: Int { checkpointer?.passes.load(ordering: .relaxed) ?? 0 }

    /// What every database of the process has done so far (for `relay bench`: transactions and statements per step).
    public static var counts: SQLiteCounts {
        let wal = relay_wal_vfs_counts_now()
        return SQLiteCounts(
            transactions: counters.transactions.load(ordering: .relaxed),
            reads: counters.reads.load(ordering: .relaxed),
            statements: counters.statements.load(ordering: .relaxed),
            checkpoints: counters.checkpoints.load(ordering: .relaxed),
            writerCheckpoints: counters.writerCheckpoints.load(ordering: .relaxed),
            queued: counters.queued.load(ordering: .relaxed),
            heldNanoseconds: counters.heldNanoseconds.load(ordering: .relaxed),
            commitNanoseconds: counters.commitNanoseconds.load(ordering: .relaxed),
            heldCPUNanoseconds: counters.heldCPUNanoseconds.load(ordering: .relaxed),
            walWritesGiven: Int(wal.writes_given), walWrites: Int(wal.writes_made))
    }
    static let counters = SQLiteCounters()

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error): on the caller's thread when
    /// that needs no wait, else on the database queue. `afterCommit` runs once COMMIT has succeeded, still holding
    /// the connection: before any other transaction or read (a read after it sees what it sees).
    public func transaction<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws -> T, afterCommit: (@Sendable (T) -> Void)? = nil
    ) async throws -> T {
        try await run { mayWait in
            guard let value = try self.lockedTransaction(body, waitForWriters: mayWait) else { return nil }
            afterCommit?(value)
            return value
        }
    }

    /// Reads without a write lock: on the caller's thread when the connection is free, else on the database queue.
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        SQLiteDatabase.counters.reads.add(1, ordering: .relaxed)
        return try await run { _ in try body(self.connection) }
    }

    /// Runs `work` holding the connection: on the caller's thread if the connection is free and nothing is queued
    /// (`work(false)`: it must not wait, and returns nil when it would have to), else on the database queue
    /// (`work(true)`, never nil).
    private func run<T: Sendable>(_ work: @escaping @Sendable (_ mayWait: Bool) throws -> T?) async throws -> T {
        if let inline = ifFree({ Result { try work(false) } }), let value = try inline.get() { return value }
        return try await withCheckedThrowingContinuation { continuation in
            onQueue { continuation.resume(with: self.locked { Result { try work(true)! } }) }
        }
    }

    /// The same as `transaction`, blocking the caller (for set-up and for tests). Calling it from inside
    /// `transaction` or `read` would deadlock, and traps instead.
    public func syncTransaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try locked { try lockedTransaction(body, waitForWriters: true)! }
    }

    /// Records every statement the connection runs from now on into `log` (nil: stops recording): see
    /// `SQLiteStatementLog`. Blocks the caller until the connection is free.
    public func record(into log: SQLiteStatementLog?) {
        locked { statements.log = log }
    }

    /// Shows `observer` every row this connection is about to change, and lets it write inside each transaction
    /// before its COMMIT (`SQLiteRowObserver`); nil: none. One at a time: it replaces the one before. Blocks the
    /// caller until the connection is free.
    ///
    /// A change made outside a transaction (`syncExecute`, or a write in `read`) has its log written right after it, in
    /// a transaction of its own (`SQLiteConnection.observed`).
    public func observeRowChanges(_ observer: (any SQLiteRowObserver)?) {
        locked {
            guard let handle else { return }
            let box = observer.map(SQLiteRowObserverBox.init)
            relay_sqlite3_set_row_hook(handle, box?.hook)
            statements.rowObserver = box
        }
    }

    /// Executes `sql` outside any transaction, blocking the caller; not from inside `transaction` or `read`.
    public func syncExecute(_ sql: String) throws {
        try locked { try connection.execute(sql) }
    }

    /// What the connection's WAL files were given to write and wrote so far (`relay_wal_vfs.h`): writes given by
    /// SQLite, system calls made, writes that did not continue the one before. Blocks the caller until the connection
    /// is free.
    func walWrites() -> (given: Int, made: Int, elsewhere: Int) {
        locked {
            var counts = relay_wal_vfs_counts()
            guard relay_wal_vfs_connection_counts(handle, &counts) == SQLITE_OK else { return (0, 0, 0) }
            return (Int(counts.writes_given), Int(counts.writes_made), Int(counts.writes_elsewhere))
        }
    }

    /// The connection's statements: only while holding the lock.
    private var connection: SQLiteConnection { SQLiteConnection(handle: handle!, statements: statements) }

    /// Runs `body` holding the connection, waiting for it if need be (not on the cooperative pool: on the database
    /// queue, or in a blocking call of the caller's).
    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        precondition(
            owner.load(ordering: .relaxed) != Self.currentThread,
            "SQLiteDatabase: a blocking call from inside a transaction or read of the same database")
        lock.lock()
        defer { lock.unlock() }
        return try owned(body)
    }

    /// Runs `body` holding the connection if it is free now and nothing is queued; nil if not.
    private func ifFree<T>(_ body: () -> T) -> T? {
        guard queuedWork.load(ordering: .acquiring) == 0, lock.try() else { return nil }
        defer { lock.unlock() }
        return owned(body)
    }

    /// `body`, with this thread recorded as the one holding the lock.
    private func owned<T>(_ body: () throws -> T) rethrows -> T {
        owner.store(Self.currentThread, ordering: .relaxed)
        let start = SQLiteCounters.now(CLOCK_MONOTONIC)
        let cpuStart = SQLiteCounters.now(CLOCK_THREAD_CPUTIME_ID)
        defer {
            SQLiteDatabase.counters.heldNanoseconds.add(SQLiteCounters.now(CLOCK_MONOTONIC) - start, ordering: .relaxed)
            SQLiteDatabase.counters.heldCPUNanoseconds.add(
                SQLiteCounters.now(CLOCK_THREAD_CPUTIME_ID) - cpuStart, ordering: .relaxed)
            owner.store(0, ordering: .relaxed)
        }
        return try body()
    }

    /// Runs `work` on the database queue, counted in `queuedWork`.
    private func onQueue(_ work: @escaping @Sendable () -> Void) {
        SQLiteDatabase.counters.queued.add(1, ordering: .relaxed)
        queuedWork.add(1, ordering: .acquiringAndReleasing)
        queue.async {
            work()
            self.queuedWork.subtract(1, ordering: .acquiringAndReleasing)
        }
    }

    private static var currentThread: UInt { UInt(pthread_self()) }

    /// BEGIN IMMEDIATE, `body`, COMMIT (ROLLBACK on error), holding the lock. Nil, with nothing done, when
    /// `waitForWriters` is false and another process holds the file's write lock.
    private func lockedTransaction<T>(_ body: (SQLiteConnection) throws -> T, waitForWriters: Bool) throws -> T? {
        let connection = self.connection
        if waitForWriters {
            try connection.control("BEGIN IMMEDIATE")
        } else {
            // Asked without a wait: SQLITE_BUSY means another process writes, and the caller waits on the queue.
            sqlite3_busy_timeout(handle, 0)
            defer { sqlite3_busy_timeout(handle, busyTimeout) }
            guard try connection.control("BEGIN IMMEDIATE", busyIsAnAnswer: true) else { return nil }
        }
        SQLiteDatabase.counters.transactions.add(1, ordering: .relaxed)
        do {
            let value = try body(connection)
            try statements.rowObserver?.observer.willCommit(connection)
            let start = SQLiteCounters.now(CLOCK_MONOTONIC)
            try connection.control("COMMIT")
            SQLiteDatabase.counters.commitNanoseconds.add(
                SQLiteCounters.now(CLOCK_MONOTONIC) - start, ordering: .relaxed)
            return value
        } catch {
            statements.rowObserver?.observer.rolledBack()
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Queues the writer's own checkpoint (after a commit: `SQLiteCheckpointer`), once: on the database queue, so
    /// that its sync (and, far behind, its wait for the checkpoint thread) never runs on the caller's thread.
    private func queueWriterCheckpoint(_ waitForThread: Bool) {
        guard
            writerCheckpointQueued.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
                .exchanged
        else { return }
        onQueue {
            self.locked {
                if let handle = self.handle {
                    self.checkpointer?.writerCheckpoint(handle, waitForThread: waitForThread)
                }
            }
            self.writerCheckpointQueued.store(false, ordering: .releasing)
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
        statements.log?.append(.script, sql, [])
        // (A script's statements are one for the row observer: a failure forgets what it kept of all of them.)
        try observed {
            var error: UnsafeMutablePointer<CChar>?
            // sqlite3_exec allocates the error message with sqlite3_malloc: free it with sqlite3_free.
            guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
                let message = error.map { String(cString: $0) } ?? "unknown error"
                sqlite3_free(error)
                throw RelayError(.io, "SQLite: \(message) in \(sql.prefix(80))")
            }
        }
    }

    /// BEGIN or COMMIT, prepared once (`execute` would parse it at every transaction); not counted as a statement.
    /// With `busyIsAnAnswer`, SQLITE_BUSY returns false instead of throwing.
    @discardableResult
    func control(_ sql: String, busyIsAnAnswer: Bool = false) throws -> Bool {
        let statement = try statements.statement(for: sql, on: handle)
        statements.log?.append(.control, sql, [])
        let status = sqlite3_step(statement)
        sqlite3_reset(statement)
        if busyIsAnAnswer && status == SQLITE_BUSY { return false }
        guard status == SQLITE_DONE else { throw stepFailure(status, in: sql) }
        return true
    }

    /// Why a statement's step did not end as it should (`status`): SQLite's message and the statement's start; a busy
    /// database's is retriable.
    func stepFailure(_ status: Int32, in sql: String) -> RelayError {
        RelayError(
            .io, "SQLite: \(String(cString: sqlite3_errmsg(handle))) in \(sql.prefix(80))",
            isRetriable: status == SQLITE_BUSY)
    }

    /// Runs a statement with bound values; returns the rows.
    @discardableResult
    public func query(_ sql: String, _ values: [Value] = []) throws -> [[Value]] {
        let statement = try statements.statement(for: sql, on: handle)
        SQLiteDatabase.counters.statements.add(1, ordering: .relaxed)
        statements.log?.append(.statement, sql, values)
        // Reset after use, whatever happens: a statement left stepping would hold its read snapshot open.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        // (By index, each value where the array keeps it: an enumeration, and a `var` to call `withUTF8` on, each
        // copied the text out with a retain and a release.)
        for index in values.indices {
            let position = Int32(index + 1)
            switch values[index] {
            case .null: sqlite3_bind_null(statement, position)
            case .int(let v): sqlite3_bind_int64(statement, position, v)
            case .double(let v): sqlite3_bind_double(statement, position, v)
            case .text(let v):
                // Its UTF-8 bytes as they are, with their length (a `String` passed as a C string was copied into a
                // new null-terminated array first, then measured by SQLite); a string not native made so first.
                let bound = v.utf8.withContiguousStorageIfAvailable {
                    Self.bindText(UnsafeRawBufferPointer($0), at: position, of: statement, copied: true)
                }
                if bound == nil {
                    var v = v
                    v.withUTF8 { Self.bindText(UnsafeRawBufferPointer($0), at: position, of: statement, copied: true) }
                }
            case .blob(let v):
                v.withUnsafeBytes { relay_sqlite3_bind_blob(statement, position, $0.baseAddress, Int32(v.count)) }
            }
        }
        return try observed {
            var rows: [[Value]] = []
            while true {
                let step = sqlite3_step(statement)
                if step == SQLITE_DONE { break }
                guard step == SQLITE_ROW else { throw stepFailure(step, in: sql) }
                var row: [Value] = []
                for column in 0..<sqlite3_column_count(statement) {
                    switch sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(statement, column)))
                    case SQLITE_FLOAT: row.append(.double(sqlite3_column_double(statement, column)))
                    case SQLITE_TEXT:
                        // By its length (as it was bound: a text with a NUL in it reads back whole).
                        let start = sqlite3_column_text(statement, column)
                        let count = Int(sqlite3_column_bytes(statement, column))
                        row.append(
                            .text(String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)))
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
            // (Done with before the row observer may write outside a transaction.)
            sqlite3_reset(statement)
            return rows
        }
    }

    /// Binds UTF-8 bytes as a text, by their length; an empty text from a static empty string (an empty buffer's
    /// address may be nil, which would bind NULL). `copied`: SQLite copies them; else they must stay where they are
    /// until the statement is reset.
    static func bindText(
        _ bytes: UnsafeRawBufferPointer, at position: Int32, of statement: OpaquePointer, copied: Bool
    ) {
        guard let start = bytes.baseAddress, !bytes.isEmpty else {
            sqlite3_bind_text(statement, position, "", 0, nil)
            return
        }
        let text = start.assumingMemoryBound(to: CChar.self)
        if copied {
            relay_sqlite3_bind_text(statement, position, text, Int32(bytes.count))
        } else {
            sqlite3_bind_text(statement, position, text, Int32(bytes.count), nil)
        }
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
    // @unchecked Sendable: used only while holding its database's lock, like the connection handle it belongs to.
    private var statements: [String: OpaquePointer] = [:]
    let capacity = 256
    /// Where the connection's statements are recorded, if anywhere (`SQLiteDatabase.record(into:)`).
    var log: SQLiteStatementLog?
    /// What sees the connection's row changes, if anything (`SQLiteDatabase.observeRowChanges`): it holds the
    /// observer and the pre-update hook's context for as long as the hook is set.
    var rowObserver: SQLiteRowObserverBox?

    /// The statements last used, by where their text's bytes are (a literal's never move): found without hashing
    /// the whole text, as `statements` needs, and checked against the text (the same string compares at once;
    /// another in the slot, made elsewhere, is told apart by its content). Emptied with `statements`.
    private var recent: [(sql: String, statement: OpaquePointer)?] = Array(repeating: nil, count: 64)

    func statement(for sql: String, on handle: OpaquePointer) throws -> OpaquePointer {
        let slot = sql.utf8.withContiguousStorageIfAvailable { Int(bitPattern: $0.baseAddress) &>> 4 & 63 }
        if let slot, let entry = recent[slot], entry.sql == sql { return entry.statement }
        let statement = try prepared(sql, on: handle)
        if let slot { recent[slot] = (sql, statement) }
        return statement
    }

    private func prepared(_ sql: String, on handle: OpaquePointer) throws -> OpaquePointer {
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
        recent = Array(repeating: nil, count: recent.count)
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
    /// Work that ran on the database queue instead of the caller's thread: transactions and reads that had to wait
    /// (the connection was busy, something was queued, another process wrote), and the writer's checkpoints.
    public var queued: Int
    /// Wall-clock time the connection was held (transactions, reads, the writer's checkpoints), and of that in COMMIT:
    /// the section every decision on the connection takes its turn in.
    public var heldNanoseconds: Int
    public var commitNanoseconds: Int
    /// The CPU time of the thread holding the connection while it held it: less than the wall-clock time by however
    /// long that thread waited for a core (or for the disk) with the connection held.
    public var heldCPUNanoseconds: Int
    /// Writes SQLite gave the WAL files, and the system calls that wrote them (`relay_wal_vfs.h`: a transaction's
    /// frames in one).
    public var walWritesGiven: Int
    public var walWrites: Int

    public init(
        transactions: Int, reads: Int, statements: Int, checkpoints: Int = 0, writerCheckpoints: Int = 0,
        queued: Int = 0, heldNanoseconds: Int = 0, commitNanoseconds: Int = 0, heldCPUNanoseconds: Int = 0,
        walWritesGiven: Int = 0, walWrites: Int = 0
    ) {
        self.walWritesGiven = walWritesGiven
        self.walWrites = walWrites
        self.heldNanoseconds = heldNanoseconds
        self.heldCPUNanoseconds = heldCPUNanoseconds
        self.commitNanoseconds = commitNanoseconds
        self.transactions = transactions
        self.reads = reads
        self.statements = statements
        self.checkpoints = checkpoints
        self.writerCheckpoints = writerCheckpoints
        self.queued = queued
    }

    public static func - (lhs: SQLiteCounts, rhs: SQLiteCounts) -> SQLiteCounts {
        SQLiteCounts(
            transactions: lhs.transactions - rhs.transactions, reads: lhs.reads - rhs.reads,
            statements: lhs.statements - rhs.statements, checkpoints: lhs.checkpoints - rhs.checkpoints,
            writerCheckpoints: lhs.writerCheckpoints - rhs.writerCheckpoints, queued: lhs.queued - rhs.queued,
            heldNanoseconds: lhs.heldNanoseconds - rhs.heldNanoseconds,
            commitNanoseconds: lhs.commitNanoseconds - rhs.commitNanoseconds,
            heldCPUNanoseconds: lhs.heldCPUNanoseconds - rhs.heldCPUNanoseconds,
            walWritesGiven: lhs.walWritesGiven - rhs.walWritesGiven, walWrites: lhs.walWrites - rhs.walWrites)
    }
}

/// Relaxed atomic counters: an increment costs a few nanoseconds next to a statement's microseconds.
final class SQLiteCounters: Sendable {
    let transactions = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let statements = Atomic<Int>(0)
    let checkpoints = Atomic<Int>(0)
    let writerCheckpoints = Atomic<Int>(0)
    let queued = Atomic<Int>(0)
    let heldNanoseconds = Atomic<Int>(0)
    let commitNanoseconds = Atomic<Int>(0)
    let heldCPUNanoseconds = Atomic<Int>(0)

    /// `clock` in nanoseconds: `CLOCK_MONOTONIC` (a vDSO call, tens of nanoseconds) or the calling thread's CPU
    /// time, `CLOCK_THREAD_CPUTIME_ID` (a system call); read once per transaction or read.
    static func now(_ clock: clockid_t) -> Int {
        var time = timespec()
        clock_gettime(clock, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
}
