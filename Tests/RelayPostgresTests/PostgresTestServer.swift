import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayPostgres

/// The test server's URL (`scripts/test` starts one with scripts/test-postgres); nil skips the suites that need it.
enum PostgresTestServer {
    static let url: String? = {
        guard let url = ProcessInfo.processInfo.environment["RELAY_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }()

    static let skipReason: Comment = "no test PostgreSQL: set RELAY_TEST_POSTGRES_URL (scripts/test starts one)"

    /// A database on the test server and a schema of the test's own (tests run in parallel), dropped afterwards.
    static func withSchema<T>(
        connections: Int = 4, _ body: (PostgresDatabase, String) async throws -> T
    ) async throws -> T {
        let database = try PostgresDatabase(url: try #require(url), connections: connections)
        let schema = "relay_test_\(UInt64.random(in: 0...UInt64.max))"
        try database.syncWriteTransaction { session in try session.execute("CREATE SCHEMA \(schema)") }
        do {
            let result = try await body(database, schema)
            try database.syncWriteTransaction { session in try session.execute("DROP SCHEMA \(schema) CASCADE") }
            database.close()
            return result
        } catch {
            try? database.syncWriteTransaction { session in try session.execute("DROP SCHEMA \(schema) CASCADE") }
            database.close()
            throw error
        }
    }
}
