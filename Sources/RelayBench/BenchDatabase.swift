import Foundation
import RelayPostgres
import RelayStore
import RelayTransport

/// A fresh PostgreSQL database for one bench (`relay bench --brokers … --store postgres://…`): created on the
/// server the URL names, migrated, dropped afterwards, so that figures never mix with runs already there.
final class BenchDatabase: Sendable {
    let database: PostgresDatabase
    private let admin: PostgresDatabase
    private let name: String
    var location: String { database.location }

    init(server: String) throws {
        guard var components = URLComponents(string: server),
            ["postgres", "postgresql"].contains(components.scheme ?? "")
        else {
            throw BenchError("bench: --store expects postgres://user:password@host:port/db?sslmode=disable")
        }
        let admin = try PostgresDatabase(url: server, connections: 1)
        let name = "relay_bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        try admin.syncReadSession { db in try db.execute("CREATE DATABASE \(name)") }
        self.admin = admin
        self.name = name
        components.path = "/" + name
        database = try PostgresDatabase(url: components.string ?? server, connections: 8)
        try SQLRunStore.migrate(database)
    }

    /// Closes the connections and drops the database.
    func drop() {
        database.close()
        try? admin.syncReadSession { db in try db.execute("DROP DATABASE \(name) WITH (FORCE)") }
        admin.close()
    }
}
