import Foundation
import RelayCore
import RelayPostgres
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayStore

/// Which database a run-store test runs on. The conformance tests run on each: SQLite always, PostgreSQL when
/// `RELAY_TEST_POSTGRES_URL` names a server (`scripts/test` starts one with `scripts/test-postgres`).
enum StoreKind: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var all: [StoreKind] { TestPostgres.url == nil ? [.sqlite] : [.sqlite, .postgres] }

    var testDescription: String { rawValue }

    /// A fresh store of this kind, removed afterwards. On SQLite the store is in the embedded bus's file (one
    /// transaction for a decision, its messages and its acknowledgement); on PostgreSQL it publishes through its
    /// shared outbox into an embedded bus, so that either way what a decision published is on `fixture.bus`.
    func withStore(_ body: (StoreFixture) async throws -> Void) async throws {
        try await SQLRunStoreTests.withDatabase { file in
            let bus = try EmbeddedBus(database: file)
            switch self {
            case .sqlite:
                try await body(StoreFixture(store: try SQLRunStore(bus: bus), database: file, bus: bus))
            case .postgres:
                try await TestPostgres.withDatabase { database, _ in
                    try await body(
                        StoreFixture(
                            store: try SQLRunStore(database: database, publishingTo: bus), database: database,
                            bus: bus))
                }
            }
        }
    }
}

/// A store under test: the writer, its database, and the bus what it publishes lands on.
struct StoreFixture {
    let store: SQLRunStore
    let database: any SQLDatabase
    let bus: EmbeddedBus

    /// A reader of the same database (as `relay runs` opens one).
    var reader: SQLRunStore { SQLRunStore(readingFrom: database) }

    /// Another writer of the same database: a restarted dispatcher, or on PostgreSQL a second one.
    func another() throws -> SQLRunStore {
        database.dialect == .sqlite ? try SQLRunStore(bus: bus) : try SQLRunStore(database: database, publishingTo: bus)
    }
}
