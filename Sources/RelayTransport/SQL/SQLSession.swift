/// A value bound into or read out of a SQL statement: the same for every database Relay's stores run on.
public typealias SQLValue = SQLiteConnection.Value

/// Which SQL a session speaks where databases differ (schema, change-log triggers, row locks).
public enum SQLDialect: Sendable, Equatable {
    case sqlite
    case postgres
}

/// Statements on an open database, inside a transaction or a read: what Relay's run store is written against, so
/// that one store's SQL serves SQLite and PostgreSQL. Parameters are written `?` and bound in order (a PostgreSQL
/// session numbers them `$1`, `$2`, … itself).
public protocol SQLSession {
    var dialect: SQLDialect { get }

    /// Runs one statement with `values` bound to its `?` in order; returns its rows (each column as a `SQLValue`:
    /// integers as `.int`, floating-point numbers as `.double`, text as `.text`, bytes as `.blob`).
    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]]

    /// Runs one or more statements that take no parameters (schema, pragmas).
    func execute(_ sql: String) throws

    /// How many rows the latest INSERT, UPDATE or DELETE run through `query` inserted, changed or deleted.
    var changes: Int { get }
}

/// A database the run store opens sessions on. Bodies are synchronous and run on a thread of the database's own
/// (never on Swift's cooperative pool), each in one transaction or one read.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }

    /// Where the database is, for messages (a file's path; a server's URL without its password).
    var location: String { get }

    /// Runs `body` in one transaction that writes; commits when it returns, rolls back when it throws. A database
    /// that can abort a transaction for a conflict with another (PostgreSQL: a deadlock, a serialization failure)
    /// runs `body` again, so `body` must have no effects outside the session.
    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T

    /// Runs `body` to read (what it sees is consistent only within each statement on PostgreSQL).
    func readSession<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T

    /// `writeTransaction`, blocking the caller: for setting up (schema) and for tests.
    func syncWriteTransaction<T>(_ body: (any SQLSession) throws -> T) throws -> T
}

extension SQLiteConnection: SQLSession {
    public var dialect: SQLDialect { .sqlite }
}

extension SQLiteDatabase: SQLDatabase {
    public var dialect: SQLDialect { .sqlite }
    public var location: String { path }

    public func writeTransaction<T: Sendable>(
        _ body: @escaping @Sendable (any SQLSession) throws -> T
    ) async throws -> T {
        try await transaction { db in try body(db) }
    }

    public func readSession<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await read { db in try body(db) }
    }

    public func syncWriteTransaction<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try syncTransaction { db in try body(db) }
    }
}

extension SQLSession {
    /// Runs one statement without parameters; returns its rows.
    @discardableResult
    public func query(_ sql: String) throws -> [[SQLValue]] { try query(sql, []) }
}
