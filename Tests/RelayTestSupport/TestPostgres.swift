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
        guard let server = url else {
            throw Unavailable(description: "RELAY_TEST_POSTGRES_URL names no server (scripts/test starts one)")
        }
        let scratch = try PostgresScratchDatabase(server: server, prefix: "relay_test", connections: connections)
        do {
            try await body(scratch.database, scratch.url)
        } catch {
            try? scratch.drop()
            throw error
        }
        try scratch.drop()
    }
}
