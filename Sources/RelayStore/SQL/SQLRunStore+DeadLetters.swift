import RelayCore
import RelayTransport

/// Dead letters (table `dead_letters`): a row per message of `relay.dlq` the dead-letter keeper read, unique by
/// where it was on `relay.dlq` (partition and offset), so a redelivery of the same message is kept once.
///
/// A dead letter redriven or discarded leaves a tombstone (`removed_at`, its value dropped) for
/// `tombstoneSeconds`: on Kafka the keeper's acknowledgement of a message is committed after the row, so the
/// message may come again after a crash, and must not bring back a letter an operator has removed. Readers never
/// see tombstones.
extension SQLRunStore {
    /// How long a removed dead letter's tombstone stays (7 days), longer than any redelivery of its message.
    static let tombstoneSeconds = 7.0 * 86_400

    static func createDeadLetterAndEventTables(_ db: any SQLSession) throws {
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS dead_letters (
                id INTEGER PRIMARY KEY AUTOINCREMENT, dlq_partition INTEGER NOT NULL, dlq_offset INTEGER NOT NULL,
                reason TEXT NOT NULL, source_topic TEXT NOT NULL, source_offset INTEGER NOT NULL, key TEXT NOT NULL,
                value BLOB NOT NULL, headers TEXT NOT NULL, truncated INTEGER NOT NULL, received_at REAL NOT NULL,
                removed_at REAL, UNIQUE (dlq_partition, dlq_offset));
            """)
        try createEventTables(db)
    }

    static let deadLetterColumns =
        "id, reason, source_topic, source_offset, key, value, headers, received_at, truncated"

    /// The columns of a list: only the value's first bytes (an excerpt), so that a page of 1,000 letters of 1 MiB
    /// each is not read whole (`deadLetter(id:)` reads one letter whole).
    static let listColumns =
        "id, reason, source_topic, source_offset, key, substr(value, 1, \(DeadLetterLimits.excerptBytes)), headers, "
        + "received_at, truncated"

    static func deadLetterRecord(_ row: [SQLValue]) -> DeadLetterRecord {
        var headers: [String: String] = [:]
        for (name, value) in json(row[6])?.objectValue ?? [:] {
            if let text = value.stringValue { headers[name] = text }
        }
        return DeadLetterRecord(
            id: row[0].int ?? 0, reason: row[1].text ?? "", sourceTopic: row[2].text ?? "", offset: row[3].int ?? -1,
            key: row[4].text ?? "", value: row[5].blob ?? [], headers: headers, receivedAt: double(row[7]) ?? 0,
            truncated: (row[8].int ?? 0) != 0)
    }

    public func deadLetters(limit: Int, after id: Int64?) async throws -> [DeadLetterRecord] {
        guard (1...DeadLetterLimits.maximumList).contains(limit) else {
            throw RelayError(
                .invalidValue,
                "dead letters: expected a limit from 1 to \(DeadLetterLimits.maximumList), found \(limit)")
        }
        return try await database.readSession { db in
            guard try Self.hasTable(db, "dead_letters") else { return [] }
            return try db.query(
                """
                SELECT \(Self.listColumns) FROM dead_letters WHERE removed_at IS NULL AND id > ?
                ORDER BY id LIMIT ?
                """, [.int(id ?? 0), .int(Int64(limit))]
            ).map(Self.deadLetterRecord)
        }
    }

    public func deadLetter(id: Int64) async throws -> DeadLetterRecord? {
        try await database.readSession { db in
            guard try Self.hasTable(db, "dead_letters") else { return nil }
            return try SQLRunStoreTransaction(db: db).keptDeadLetter(id: id)
        }
    }
}

extension SQLRunStoreTransaction {
    func keptDeadLetter(id: Int64) throws -> DeadLetterRecord? {
        try db.query(
            "SELECT \(SQLRunStore.deadLetterColumns) FROM dead_letters WHERE id = ? AND removed_at IS NULL",
            [.int(id)]
        ).first.map(SQLRunStore.deadLetterRecord)
    }

    func recordDeadLetter(_ letter: DeadLetter, partition: Int, offset: Int64) throws -> Bool {
        var truncated = false
        var value = letter.value
        var reason = letter.reason
        var key = letter.key
        if value.count > DeadLetterLimits.maximumValueBytes {
            reason +=
                "; kept truncated: a value of \(value.count) bytes, of which the first "
                + "\(DeadLetterLimits.maximumValueBytes) are kept"
            value = Array(value.prefix(DeadLetterLimits.maximumValueBytes))
            truncated = true
        }
        if key.utf8.count > DeadLetterLimits.maximumKeyBytes {
            reason +=
                "; kept truncated: a key of \(key.utf8.count) bytes, of which the first "
                + "\(DeadLetterLimits.maximumKeyBytes) are kept"
            key = String(decoding: key.utf8.prefix(DeadLetterLimits.maximumKeyBytes), as: UTF8.self)
            truncated = true
        }
        let sorted = letter.originalHeaders.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }
        var headers = JSONWriter.compact.string(.object(JSONObject(uniqueKeysWithValues: sorted)))
        if headers.utf8.count > DeadLetterLimits.maximumHeaderBytes {
            reason +=
                "; kept truncated: headers of \(headers.utf8.count) bytes of JSON (more than "
                + "\(DeadLetterLimits.maximumHeaderBytes)), not kept"
            headers = "{}"
            truncated = true
        }
        if reason.utf8.count > DeadLetterLimits.maximumReasonBytes {
            reason = String(decoding: reason.utf8.prefix(DeadLetterLimits.maximumReasonBytes), as: UTF8.self) + "…"
        }
        try db.query(
            """
            INSERT INTO dead_letters (dlq_partition, dlq_offset, reason, source_topic, source_offset, key,
                value, headers, truncated, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .int(Int64(partition)), .int(offset), .text(reason), .text(letter.sourceTopic), .int(letter.offset),
                .text(key), .blob(value), .text(headers), .int(truncated ? 1 : 0), .double(RunTime.now()),
            ])
        return db.changes == 1
    }

    func removeDeadLetter(id: Int64) throws -> DeadLetterRecord? {
        guard let record = try keptDeadLetter(id: id) else { return nil }
        let now = RunTime.now()
        try db.query(
            "UPDATE dead_letters SET removed_at = ?, value = ?, headers = '{}' WHERE id = ?",
            [.double(now), .blob([]), .int(id)])
        try db.query(
            "DELETE FROM dead_letters WHERE removed_at < ?", [.double(now - SQLRunStore.tombstoneSeconds)])
        return record
    }
}
