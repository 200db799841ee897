import RelayCore
import RelayTransport

/// Where the trigger host keeps each trigger instance's state (a task's cursor), so that it survives restarts.
public protocol TriggerStateStore: Sendable {
    /// The state last saved for `instance`, or nil.
    func state(of instance: String) async throws -> JSONValue?
    /// Replaces the state of `instance`.
    func save(_ state: JSONValue, of instance: String) async throws
}

/// Trigger state in a SQL database: a SQLite file (the embedded bus's, or the trigger host's own on Kafka), or the
/// PostgreSQL store trigger hosts share (the next owner of an instance goes on from the state its last owner saved).
public final class SQLTriggerStateStore: TriggerStateStore {
    let database: any SQLDatabase

    /// On PostgreSQL the table is the run store's schema's (its migrations, applied here when they have not been).
    public init(database: any SQLDatabase) throws {
        self.database = database
        guard database.dialect == .sqlite else {
            try SQLRunStore.migrate(database)
            return
        }
        try database.syncWriteTransaction { db in
            try db.execute("CREATE TABLE IF NOT EXISTS trigger_state (instance TEXT PRIMARY KEY, state TEXT NOT NULL)")
        }
    }

    public func state(of instance: String) async throws -> JSONValue? {
        let text = try await database.readSession { db in
            try db.query("SELECT state FROM trigger_state WHERE instance = ?", [.text(instance)]).first?.first?.text
        }
        guard let text else { return nil }
        do {
            return try JSONParser.parse(text)
        } catch {
            throw RelayError(
                .invalidJSON, "\(database.location): the saved state of trigger \(instance) is not JSON: \(error)")
        }
    }

    public func save(_ state: JSONValue, of instance: String) async throws {
        try await database.writeTransaction { db -> Void in
            try db.query(
                """
                INSERT INTO trigger_state (instance, state) VALUES (?, ?)
                ON CONFLICT(instance) DO UPDATE SET state = excluded.state
                """, [.text(instance), .text(JSONWriter.compact.string(state))])
        }
    }
}
