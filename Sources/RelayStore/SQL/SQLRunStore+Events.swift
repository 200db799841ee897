import RelayCore
import RelayTransport

/// The events' payloads (column `events.payload`: the whole trigger event as compact JSON), kept so that a range of
/// them can be replayed (`relay events replay`), for as long as the event retention says (`store_settings` row
/// `event_retention_seconds`, written by `applyEventRetention`; without it, kept until a retention pass runs). Past
/// the retention the payload is set NULL; the row stays, since its id is what makes a redelivered event a no-op.
extension SQLRunStore {
    static let eventRetentionSetting = "event_retention_seconds"

    static func createEventTables(_ db: any SQLSession) throws {
        try addColumns(db, table: "events", [("payload", "TEXT")])
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS store_settings (name TEXT PRIMARY KEY, value REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS events_instance ON events(instance, received_at);
            CREATE INDEX IF NOT EXISTS events_payload_age ON events(received_at) WHERE payload IS NOT NULL;
            """)
    }

    public func events(instance: String, since: Double, until: Double, limit: Int) async throws -> [TriggerEvent] {
        try await database.readSession { db in
            // A file written before payloads were kept has none (a reader never alters the file).
            guard try Self.hasColumn(db, table: "events", "payload") else { return [] }
            return try db.query(
                """
                SELECT payload FROM events
                WHERE instance = ? AND received_at >= ? AND received_at <= ? AND payload IS NOT NULL
                ORDER BY received_at, rowid LIMIT ?
                """, [.text(instance), .double(since), .double(until), .int(Int64(max(0, limit)))]
            ).compactMap { row in
                // A payload that does not read (a hand edit, another version's) is passed over, never a trap.
                Self.json(row[0]).flatMap { try? TriggerEvent(json: $0) }
            }
        }
    }
}

extension SQLRunStore {
    public func eventVolume(instance: String, since: Double, until: Double) async throws -> (count: Int, bytes: Int) {
        try await database.readSession { db in
            guard try Self.hasColumn(db, table: "events", "payload") else { return (0, 0) }
            let row = try db.query(
                """
                SELECT COUNT(*), CAST(COALESCE(SUM(\(db.dialect.byteLength("payload"))), 0) AS BIGINT) FROM events
                WHERE instance = ? AND received_at >= ? AND received_at <= ? AND payload IS NOT NULL
                """, [.text(instance), .double(since), .double(until)]
            ).first
            return (Int(row?[0].int ?? 0), Int(row?[1].int ?? 0))
        }
    }
}

extension SQLRunStoreTransaction {
    func applyEventRetention(seconds: Double, now: Double, limit: Int) throws -> Int {
        try db.query(
            """
            INSERT INTO store_settings (name, value) VALUES (?, ?)
            ON CONFLICT(name) DO UPDATE SET value = excluded.value
            """, [.text(SQLRunStore.eventRetentionSetting), .double(max(0, seconds))])
        try db.query(
            """
            UPDATE events SET payload = NULL WHERE rowid IN (
                SELECT rowid FROM events WHERE payload IS NOT NULL AND received_at < ? LIMIT ?)
            """, [.double(now - max(0, seconds)), .int(Int64(max(0, limit)))])
        return db.changes
    }
}
