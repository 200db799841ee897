import PostgresNIO
import RelayCore
import RelayTransport
import Synchronization

/// `SQLSession` on one lent connection, in a write transaction or for a read (autocommit).
final class PostgresSession: SQLSession {
    var dialect: SQLDialect { .postgres }
    private(set) var changes = 0
    /// The first error PostgreSQL raised in this session: in a transaction it aborted it, whatever the body then
    /// threw (the write transaction's retry looks at it).
    private(set) var abortingError: PostgresStatementError?

    private let connection: PostgresPooledConnection
    private let statements: PostgresStatementCache
    private let inTransaction: Bool

    init(connection: PostgresPooledConnection, statements: PostgresStatementCache, inTransaction: Bool) {
        self.connection = connection
        self.statements = statements
        self.inTransaction = inTransaction
    }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]] {
        let statement = statements.statement(for: sql)
        guard statement.parameterCount == values.count else {
            throw RelayError(
                .invalidValue,
                "PostgreSQL at \(connection.location): expected \(statement.parameterCount) values for the ? of "
                    + "\(sql.prefix(80)), found \(values.count)")
        }
        let result: PostgresQueryResult
        do {
            result = try run(statement.sql, values, typed: statement.typedParameters, sql: sql)
        } catch let error
            where PostgresStatementError.of(error)?.sqlState == PostgresStatementError.indeterminateDatatype
            && !statement.typedParameters
        {
            // The statement does not say of what type a parameter is: from now on its parameters go typed. In a
            // transaction the error aborted it, and the write transaction runs the body again.
            statements.markTyped(sql)
            guard !inTransaction else { throw error }
            abortingError = nil
            result = try run(statement.sql, values, typed: true, sql: sql)
        }
        // The command tag: "INSERT 0 3", "UPDATE 2", "DELETE 1" (postgres-nio leaves MERGE's count in `command`).
        let command = result.metadata.command
        switch command {
        case "INSERT", "UPDATE", "DELETE": changes = result.metadata.rows ?? 0
        case _ where command.hasPrefix("MERGE "): changes = Int(command.dropFirst("MERGE ".count)) ?? 0
        default: break
        }
        return try result.rows.map { row in try row.map { cell in try cell.sqlValue() } }
    }

    func execute(_ sql: String) throws {
        // postgres-nio speaks only the extended protocol, which takes one statement at a time.
        for statement in PostgresSQLText.statements(sql) {
            do {
                try connection.run(statement)
            } catch {
                if abortingError == nil { abortingError = PostgresStatementError.of(error) }
                throw error
            }
        }
    }

    private func run(_ numbered: String, _ values: [SQLValue], typed: Bool, sql: String) throws -> PostgresQueryResult {
        do {
            let binds = PostgresParameter.bind(values, typed: typed)
            return try connection.query(PostgresQuery(unsafeSQL: numbered, binds: binds), sql: sql)
        } catch {
            if abortingError == nil { abortingError = PostgresStatementError.of(error) }
            throw error
        }
    }
}

/// Each SQL text's statement with `$n` for its `?`, made once per text for all connections; and which statements
/// need typed parameters.
final class PostgresStatementCache: Sendable {
    struct Statement: Sendable {
        var sql: String
        var parameterCount: Int
        var typedParameters = false
    }

    /// The store's statements are a few dozen; a program that builds SQL text on the fly must not grow this
    /// without end.
    static let capacity = 2048

    private let statements = Mutex<[String: Statement]>([:])

    func statement(for sql: String) -> Statement {
        if let statement = statements.withLock({ $0[sql] }) { return statement }
        let (numbered, count) = PostgresSQLText.numberingPlaceholders(sql)
        let statement = Statement(sql: numbered, parameterCount: count)
        statements.withLock { statements in
            if statements.count >= Self.capacity { statements.removeAll(keepingCapacity: true) }
            if statements[sql] == nil { statements[sql] = statement }
        }
        return statement
    }

    func markTyped(_ sql: String) {
        statements.withLock { statements in statements[sql]?.typedParameters = true }
    }
}
