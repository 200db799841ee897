import Dispatch
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import RelayCore
import RelayTransport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `SQLDatabase` on a PostgreSQL server: a small pool of connections (postgres-nio), each used by one body at a
/// time. Bodies run on a dispatch queue of the database's own and block on the connection's futures, never on
/// Swift's cooperative pool.
///
/// A write transaction that PostgreSQL aborts for a conflict with another (SQLSTATE 40001 serialization_failure,
/// 40P01 deadlock_detected), from a statement or from COMMIT, is rolled back and its body run again, up to
/// `maximumAttempts` times with a short random pause in between. A connection that broke (the server restarted)
/// is replaced at its next use; the body that saw it break throws.
///
/// Shutdown: `close()` closes the idle connections at once and each busy one when its body returns; a body that
/// starts afterwards throws. Dropping the database without `close()` closes its idle connections without waiting.
public final class PostgresDatabase: SQLDatabase, Sendable {
    public var dialect: SQLDialect { .postgres }
    /// The URL without its password (`***` in its place).
    public let location: String
    /// How many times a write transaction is run when PostgreSQL keeps aborting it for a conflict.
    public static let maximumAttempts = 10

    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let pool: PostgresConnectionPool
    private let statements = PostgresStatementCache()
    private let queue = DispatchQueue(label: "relay.postgres", attributes: .concurrent)

    /// Connects lazily: no connection is opened before the first body needs one, so a wrong address or password
    /// shows at the first transaction. Throws a configuration error for a malformed URL or an unsupported sslmode.
    public init(url: String, connections: Int = 4, logger: Logger? = nil) throws(RelayError) {
        let parsed = try PostgresURL(parsing: url)
        guard (1...100).contains(connections) else {
            throw RelayError(
                .configuration, "PostgreSQL at \(parsed.location): expected 1 to 100 connections, found \(connections)")
        }
        location = parsed.location
        var configuration = PostgresConnection.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
            database: parsed.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
        self.logger = logger ?? Logger(label: "relay.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        pool = PostgresConnectionPool(size: connections)
    }

    deinit {
        for connection in pool.closeAll() { connection.close(wait: false) }
    }

    /// Closes the idle connections, waiting for each; busy ones close when their body returns.
    public func close() {
        for connection in pool.closeAll() { connection.close(wait: true) }
    }

    public func writeTransaction<T: Sendable>(
        _ body: @escaping @Sendable (any SQLSession) throws -> T
    ) async throws -> T {
        try await onQueue { try self.syncWriteTransaction(body) }
    }

    public func readSession<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await onQueue { try self.syncReadSession(body) }
    }

    /// `readSession`, blocking the caller.
    public func syncReadSession<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try withConnection { connection in
            try body(PostgresSession(connection: connection, statements: statements, inTransaction: false))
        }
    }

    public func syncWriteTransaction<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try withConnection { connection in
            var attempt = 1
            while true {
                let session = PostgresSession(connection: connection, statements: statements, inTransaction: true)
                do {
                    try connection.run("BEGIN")
                    let result = try body(session)
                    try connection.run("COMMIT")
                    return result
                } catch {
                    // What ended the attempt: the server's error that aborted the transaction, when the body saw
                    // one (it may have thrown something else in its place).
                    let conflict = session.abortingError ?? PostgresStatementError.of(error)
                    if !connection.isBroken {
                        // After a failed COMMIT the transaction is over already; ROLLBACK then only warns.
                        do { try connection.run("ROLLBACK") } catch { connection.isBroken = true }
                    }
                    guard !connection.isBroken, attempt < Self.maximumAttempts, let conflict,
                        conflict.isConflict || conflict.sqlState == PostgresStatementError.indeterminateDatatype
                    else { throw error }
                    logger.debug(
                        "PostgreSQL transaction aborted, running it again",
                        metadata: ["postgres.sqlstate": "\(conflict.sqlState)", "postgres.attempt": "\(attempt)"])
                    if conflict.isConflict {
                        // 1 to 5·attempt ms: two transactions that deadlocked do not meet again at once.
                        usleep(UInt32.random(in: 1_000...(5_000 * UInt32(attempt))))
                    }
                    attempt += 1
                }
            }
        }
    }

    // MARK: Connections

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Runs `body` with a connection of the pool (waiting for one when all are busy), opening one when there is
    /// none, and returns it to the pool unless it broke.
    private func withConnection<T>(_ body: (PostgresPooledConnection) throws -> T) throws -> T {
        let connection = try pool.checkOut { () throws(RelayError) in try self.connect() }
        var broken = true
        defer { pool.checkIn(connection, broken: broken) }
        do {
            let result = try body(connection)
            broken = connection.isBroken
            return result
        } catch {
            broken = connection.isBroken
            throw error
        }
    }

    private func connect() throws(RelayError) -> PostgresPooledConnection {
        let id = pool.nextConnectionID()
        do {
            let connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id,
                logger: logger
            ).wait()
            return PostgresPooledConnection(connection: connection, location: location, logger: logger)
        } catch {
            throw RelayError(
                .io, "PostgreSQL at \(location): cannot connect: \(PostgresStatementError.describe(error))",
                underlying: PostgresStatementError(error, sql: ""), isRetriable: true)
        }
    }
}
