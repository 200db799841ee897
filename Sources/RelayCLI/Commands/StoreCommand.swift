import ArgumentParser
import Foundation
import RelayEngine
import RelayStore

/// `relay store migrate|version`: the schema of a shared run store (PostgreSQL).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "The shared run store (PostgreSQL): its schema version and migrations.",
        subcommands: [StoreMigrateCommand.self, StoreVersionCommand.self])
}

struct StoreOption: ParsableArguments {
    @Option(help: "postgres://user:password@host:port/db?sslmode=disable (env RELAY_STORE_URL).")
    var store: String? = ProjectDatabase.sharedStoreURL

    func url() throws -> String {
        guard let store else {
            throw CLIFailure("no store given: pass --store postgres://… or set RELAY_STORE_URL")
        }
        return store
    }
}

struct StoreMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Applies the schema migrations the store lacks (relay dispatcher also does at its start).")
    @OptionGroup var options: StoreOption

    func run() async throws {
        let database = try CLIFailure.wrap { try SharedStore.open(try options.url(), connections: 1) }
        let applied = try CLIFailure.wrap { try SQLRunStore.migrate(database) }
        let version = try await SQLRunStore.schemaVersion(database)
        print(
            applied.isEmpty
                ? "\(database.location): schema at version \(version), up to date"
                : "\(database.location): applied \(applied.map { "\($0)" }.joined(separator: ", ")); "
                    + "schema at version \(version)")
    }
}

struct StoreVersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Prints the store's schema version and the latest this Relay knows.")
    @OptionGroup var options: StoreOption

    func run() async throws {
        let database = try CLIFailure.wrap { try SharedStore.open(try options.url(), connections: 1) }
        let version = try await SQLRunStore.schemaVersion(database)
        print(
            "\(database.location): schema version \(version); this Relay knows up to "
                + "\(SQLRunStore.postgresSchemaVersion)"
        )
    }
}
