import Foundation
import RelayCore

/// A database of its own on a PostgreSQL server, made for one use (a test, a bench) so that nothing else's rows mix
/// with its own, and dropped afterwards (`drop()`). Its name is `prefix_` and 20 random hex digits.
public final class PostgresScratchDatabase: Sendable {
    /// The database, open.
    public let database: PostgresDatabase
    /// Its URL: the server's with the database's name as its path (for processes that open it themselves).
    public let url: String
    private let admin: PostgresDatabase
    private let name: String

    /// Creates the database on the server `server` names (whose user may create databases).
    public init(server: String, prefix: String, connections: Int = 4) throws {
        let name = prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        guard var components = URLComponents(string: server) else {
            throw RelayError(
                .configuration, "PostgreSQL URL: expected \(PostgresURL.expected), found one that does not parse")
        }
        components.path = "/" + name
        let url = components.string ?? server
        let admin = try PostgresDatabase(url: server, connections: 1)
        // (CREATE DATABASE cannot run inside a transaction.)
        try admin.syncReadSession { db in try db.execute("CREATE DATABASE \(name)") }
        self.admin = admin
        self.name = name
        self.url = url
        database = try PostgresDatabase(url: url, connections: connections)
    }

    /// Closes the database's connections and drops it (also while another session still uses it).
    public func drop() throws {
        database.close()
        defer { admin.close() }
        try admin.syncReadSession { db in try db.execute("DROP DATABASE \(name) WITH (FORCE)") }
    }
}
