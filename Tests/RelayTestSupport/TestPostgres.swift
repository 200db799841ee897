import Foundation
import RelayPostgres

/// The PostgreSQL server of the tests: `RELAY_TEST_POSTGRES_URL` (`scripts/test` starts one with
/// `scripts/test-postgres`). Tests that need it are enabled only when it is set, as the broker's are.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["RELAY_TEST_POSTGRES_URL"].flatMap {
        $0.isEmpty ? nil : $0
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// A fresh database on the test server (one of its own, so tests run in parallel), dropped afterwards; the body
    /// gets it open, and its URL (for processes it starts).
    public static func withDatabase(
        connections: Int = 4, _ body: (PostgresDatabase, String) async throws -> Void
    ) async throws {
        guard let server = url, var components = URLComponents(string: server) else {
            throw Unavailable(description: "RELAY_TEST_POSTGRES_URL names no server (scripts/test starts one)")
        }
        let admin = try PostgresDatabase(url: server, connections: 1)
        defer { admin.close() }
        let name = "relay_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        try admin.syncReadSession { db in try db.execute("CREATE DATABASE \(name)") }
        components.path = "/" + name
        let databaseURL = components.string ?? server
        let database = try PostgresDatabase(url: databaseURL, connections: connections)
        do {
            try await body(database, databaseURL)
        } catch {
            database.close()
            try? admin.syncReadSession { db in try db.execute("DROP DATABASE \(name) WITH (FORCE)") }
            throw error
        }
        database.close()
        try admin.syncReadSession { db in try db.execute("DROP DATABASE \(name) WITH (FORCE)") }
    }
}
