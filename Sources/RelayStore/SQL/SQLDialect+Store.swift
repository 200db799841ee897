import RelayTransport

/// The few places where the run store's SQL differs between SQLite and PostgreSQL.
extension SQLDialect {
    /// Appended to a SELECT whose rows the transaction goes on to change: PostgreSQL locks them until it ends, so
    /// that two dispatchers sharing the store decide about one run one after the other. (SQLite's write transaction
    /// holds the whole database already: nothing to add.)
    var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }

    /// Appended to a SELECT that takes work (due retries, passed deadlines): rows another dispatcher has locked are
    /// passed over, so each is taken by one dispatcher, once, without waiting.
    var forUpdateSkipLocked: String { self == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }

    /// The larger of two values (SQLite's scalar MAX, PostgreSQL's GREATEST).
    func greatest(_ first: String, _ second: String) -> String {
        self == .postgres ? "GREATEST(\(first), \(second))" : "MAX(\(first), \(second))"
    }

    /// The length in bytes of a text expression.
    func byteLength(_ expression: String) -> String {
        self == .postgres ? "octet_length(\(expression))" : "length(CAST(\(expression) AS BLOB))"
    }
}
