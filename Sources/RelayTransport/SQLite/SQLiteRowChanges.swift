import CSQLite
import Foundation

/// Sees each row of some tables a connection is about to insert, update or delete (SQLite's pre-update hook), and
/// writes what it kept of them inside the transaction, just before its COMMIT: a log of changes in the same
/// transaction as the changes, whatever statement made them, without a trigger's program run for every row
/// (`SQLiteDatabase.observeRowChanges`; the run store's change log is one: `RunChangeRecorder`).
///
/// Called only while the connection is held (its statements run one at a time), so an observer set on one database
/// keeps its state without a lock of its own. The connection tells it where each statement starts (`savepoint`), so
/// that what it kept of a statement that fails is forgotten (SQLite undid the statement: `rollBack(to:)`; all of it
/// when SQLite rolled the transaction back: `rolledBack`); a statement run outside a transaction (autocommit) has
/// what was kept of it written at once, in a transaction of its own (the change itself is already committed then: a
/// crash between the two loses its log; the run store makes its changes in transactions).
public protocol SQLiteRowObserver: AnyObject, Sendable {
    /// The tables (of the main database; at most four) whose rows it sees; `SQLiteRowChange.table` is an index here.
    var tables: [String] { get }
    /// A row of one of `tables` is about to change (inside `sqlite3_step`): `change` is valid only during the call,
    /// and the observer must not run statements on the connection.
    func rowWillChange(_ change: SQLiteRowChange)
    /// The transaction is about to commit: write what was kept (statements on `connection`, in the transaction). A
    /// throw rolls the transaction back.
    func willCommit(_ connection: SQLiteConnection) throws
    /// The transaction rolled back: forget what was kept.
    func rolledBack()
    /// Where what it has kept ends (a statement starts there).
    var savepoint: Int { get }
    /// A statement failed and SQLite undid it: forget what was kept after `savepoint`.
    func rollBack(to savepoint: Int)
}

/// A row about to change, as SQLite's pre-update hook shows it: valid only inside `rowWillChange`.
public struct SQLiteRowChange {
    public enum Operation: Sendable { case insert, update, delete }

    let handle: OpaquePointer
    public let operation: Operation
    /// The row's table: its index in the observer's `tables`.
    public let table: Int

    /// Column `column`'s value after the change as text, nil for NULL (not for a delete).
    public func newText(_ column: Int32) -> String? {
        withNewText(column) { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Column `column`'s value after the change as UTF-8 bytes, nil for NULL, valid only inside `body` (not for a
    /// delete).
    public func withNewText<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let value = value(column, sqlite3_preupdate_new), sqlite3_value_type(value) != SQLITE_NULL,
            let start = sqlite3_value_text(value)
        else { return body(nil) }
        return body(UnsafeRawBufferPointer(start: start, count: Int(sqlite3_value_bytes(value))))
    }

    /// Column `column`'s value after the change as an integer, nil for NULL (not for a delete).
    public func newInt(_ column: Int32) -> Int64? {
        guard let value = value(column, sqlite3_preupdate_new), sqlite3_value_type(value) != SQLITE_NULL else {
            return nil
        }
        return sqlite3_value_int64(value)
    }

    /// Whether an update changes column `column` (`IS NOT`: NULL and NULL are the same; compared as SQLite stored
    /// them, by type and bytes). Always true for an insert or a delete. Before reading the column's new value as text
    /// (which converts a blob's value in place).
    public func changes(_ column: Int32) -> Bool {
        guard operation == .update else { return true }
        guard let old = value(column, sqlite3_preupdate_old), let new = value(column, sqlite3_preupdate_new) else {
            return true
        }
        let type = sqlite3_value_type(old)
        guard type == sqlite3_value_type(new) else { return true }
        switch type {
        case SQLITE_NULL: return false
        case SQLITE_INTEGER: return sqlite3_value_int64(old) != sqlite3_value_int64(new)
        case SQLITE_FLOAT: return sqlite3_value_double(old) != sqlite3_value_double(new)
        default:
            // (Text and blobs by their bytes; `_blob` reads a text's bytes without converting them.)
            let count = sqlite3_value_bytes(old)
            guard count == sqlite3_value_bytes(new) else { return true }
            guard count > 0, let a = sqlite3_value_blob(old), let b = sqlite3_value_blob(new) else { return false }
            return memcmp(a, b, Int(count)) != 0
        }
    }

    private func value(
        _ column: Int32, _ read: (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    ) -> OpaquePointer? {
        var value: OpaquePointer?
        guard read(handle, column, &value) == SQLITE_OK else { return nil }
        return value
    }
}

/// An observer as the connection's pre-update hook calls it (held by the connection's `SQLiteStatementCache`; set by
/// `SQLiteDatabase.observeRowChanges`): the table names it watches, as C strings, for the hook's own comparison
/// (`relay_row_hook` in CSQLite's shim).
final class SQLiteRowObserverBox {
    let observer: any SQLiteRowObserver
    let hook: UnsafeMutablePointer<relay_row_hook>
    private let names: [UnsafeMutablePointer<CChar>]

    init(_ observer: any SQLiteRowObserver) {
        precondition(observer.tables.count <= 4, "SQLiteRowObserver: at most four tables")
        self.observer = observer
        names = observer.tables.map { strdup($0)! }
        hook = .allocate(capacity: 1)
        hook.initialize(to: relay_row_hook())
        hook.pointee.callback = Self.callback
        let tables = names.map { UnsafePointer($0) as UnsafePointer<CChar>? } + [nil, nil, nil, nil]
        hook.pointee.tables = (tables[0], tables[1], tables[2], tables[3])
        hook.pointee.context = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        hook.deallocate()
        for name in names { free(name) }
    }

    private static let callback: relay_row_callback = { context, handle, table, operation in
        guard let context, let handle else { return }
        let kind: SQLiteRowChange.Operation =
            switch operation {
            case SQLITE_INSERT: .insert
            case SQLITE_UPDATE: .update
            default: .delete
            }
        Unmanaged<SQLiteRowObserverBox>.fromOpaque(context).takeUnretainedValue().observer.rowWillChange(
            SQLiteRowChange(handle: handle, operation: kind, table: Int(table)))
    }
}

/// The values of one statement, bound one after the other without `SQLiteConnection.Value`s (`SQLiteConnection.run`).
public struct SQLiteBindings {
    let statement: OpaquePointer
    var position: Int32 = 1
    /// What is bound, for the statement log (only while one records).
    var logged: [SQLiteConnection.Value]?

    public mutating func bind(_ value: Double) {
        sqlite3_bind_double(statement, position, value)
        logged?.append(.double(value))
        position += 1
    }

    public mutating func bind(_ value: Int64?) {
        if let value { sqlite3_bind_int64(statement, position, value) } else { sqlite3_bind_null(statement, position) }
        logged?.append(value.map { .int($0) } ?? .null)
        position += 1
    }

    /// UTF-8 bytes as a text (nil: NULL), not copied: they must stay where they are until `run` returns.
    public mutating func bind(text bytes: UnsafeRawBufferPointer?) {
        if let bytes {
            SQLiteConnection.bindText(bytes, at: position, of: statement, copied: false)
            logged?.append(.text(String(decoding: bytes, as: UTF8.self)))
        } else {
            sqlite3_bind_null(statement, position)
            logged?.append(.null)
        }
        position += 1
    }
}

extension SQLiteConnection {
    /// Runs a statement (`body` steps it) so that the row observer sees it whole (`SQLiteRowObserver`): what it kept of
    /// a statement that fails is forgotten, a statement run outside a transaction has what was kept of it written at
    /// once, and one that ends the transaction (a ROLLBACK in a script) leaves nothing kept.
    func observed<T>(_ body: () throws -> T) throws -> T {
        guard let observer = statements.rowObserver?.observer else { return try body() }
        let savepoint = observer.savepoint
        let inTransaction = sqlite3_get_autocommit(handle) == 0
        let value: T
        do {
            value = try body()
        } catch {
            // (SQLite undid the statement; on some errors, the whole transaction.)
            if sqlite3_get_autocommit(handle) != 0 { observer.rolledBack() } else { observer.rollBack(to: savepoint) }
            throw error
        }
        if sqlite3_get_autocommit(handle) != 0 {
            if inTransaction {
                observer.rolledBack()
            } else if observer.savepoint > 0 {
                try writeOutsideTransaction(observer)
            }
        }
        return value
    }

    /// What `observer` kept of a statement run outside a transaction (committed already), written in a transaction
    /// of its own.
    private func writeOutsideTransaction(_ observer: any SQLiteRowObserver) throws {
        try control("BEGIN IMMEDIATE")
        do {
            try observer.willCommit(self)
            try control("COMMIT")
        } catch {
            sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            observer.rolledBack()
            throw error
        }
    }

    /// Runs `sql`, a statement that returns no rows, with the values `bind` binds in order: for a hot statement with
    /// many values, without building them as `Value`s (texts are bound where they are, not copied).
    public func run(_ sql: String, _ bind: (inout SQLiteBindings) -> Void) throws {
        let statement = try statements.statement(for: sql, on: handle)
        SQLiteDatabase.counters.statements.add(1, ordering: .relaxed)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var bindings = SQLiteBindings(statement: statement, logged: statements.log == nil ? nil : [])
        bind(&bindings)
        if let logged = bindings.logged { statements.log?.append(.statement, sql, logged) }
        try observed {
            let step = sqlite3_step(statement)
            guard step == SQLITE_DONE else { throw stepFailure(step, in: sql) }
            // (Done with before the row observer may write outside a transaction.)
            sqlite3_reset(statement)
        }
    }
}
