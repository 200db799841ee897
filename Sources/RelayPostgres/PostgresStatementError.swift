import PostgresNIO
import RelayCore

/// What PostgreSQL (or the connection to it) said when a statement failed: the underlying error of the
/// `RelayError` a `PostgresDatabase` throws.
public struct PostgresStatementError: Error, Sendable, CustomStringConvertible {
    /// The SQLSTATE (`42601` for a syntax error), or "" when the connection failed rather than the statement.
    public var sqlState: String
    /// PostgreSQL's message, or what happened to the connection.
    public var message: String
    /// PostgreSQL's detail, when it gave one.
    public var detail: String?
    /// The start of the statement (80 characters).
    public var statement: String
    /// The connection failed (closed, reset, refused), not only the statement.
    public var isConnectionFailure: Bool

    static let serializationFailure = "40001"
    static let deadlockDetected = "40P01"
    static let indeterminateDatatype = "42P18"

    /// PostgreSQL aborted the transaction for a conflict with another: running it again may succeed.
    public var isConflict: Bool { sqlState == Self.serializationFailure || sqlState == Self.deadlockDetected }

    init(_ error: any Error, sql: String) {
        statement = String(sql.prefix(80))
        if let error = error as? PSQLError, let info = error.serverInfo {
            sqlState = info[.sqlState] ?? ""
            message = info[.message] ?? "an error without a message"
            detail = info[.detail]
            // Shutting down (57P01 admin_shutdown and the rest of class 57) ends the connection too.
            isConnectionFailure = sqlState.hasPrefix("57") || sqlState.hasPrefix("08")
        } else {
            sqlState = ""
            message = Self.describe(error)
            detail = nil
            isConnectionFailure = true
        }
    }

    /// The error of `error`, a `RelayError` a PostgreSQL session threw or one of these.
    static func of(_ error: any Error) -> PostgresStatementError? {
        (error as? PostgresStatementError) ?? ((error as? RelayError)?.underlying as? PostgresStatementError)
    }

    /// What went wrong, without the statement's parameters (postgres-nio's own descriptions hide everything, and
    /// its debug descriptions show the bound values).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo {
            return "\(info[.sqlState] ?? "?"): \(info[.message] ?? "")"
        }
        switch error.code {
        case .serverClosedConnection: return "the server closed the connection"
        case .clientClosedConnection: return "the connection was closed"
        case .connectionError, .uncleanShutdown:
            return "the connection failed" + (error.underlying.map { " (\($0))" } ?? "")
        default: return "\(error.code)" + (error.underlying.map { " (\($0))" } ?? "")
        }
    }

    public var description: String {
        var text = sqlState.isEmpty ? message : "SQLSTATE \(sqlState): \(message)"
        if let detail { text += " (\(detail))" }
        if !statement.isEmpty { text += " in \(statement)" }
        return text
    }
}
