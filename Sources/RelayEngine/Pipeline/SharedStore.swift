import RelayPostgres
import RelayStore
import RelayTransport

/// The store the distributed roles share when they are given one (`--store`, `RELAY_STORE_URL`): PostgreSQL, for the
/// run store of any number of dispatchers and the trigger state of any number of trigger hosts (docs/postgres.md).
/// Without one, the dispatcher keeps its run store and the trigger host its state in SQLite files of the project.
public enum SharedStore {
    /// The database at `url` (`postgres://user:password@host:port/database?sslmode=disable`).
    public static func open(_ url: String, connections: Int = 4) throws -> any SQLDatabase {
        // (PostgresURL says what is wrong with a URL that is not one, without quoting its password.)
        try PostgresDatabase(url: url, connections: connections)
    }
}
