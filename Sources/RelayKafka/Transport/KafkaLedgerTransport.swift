import Foundation
import RelayCore
import RelayTransport

/// The dispatcher's transport on Kafka: decisions are written to the run store (SQLite) together with the
/// messages they cause, in an outbox table of the same transaction; the outbox is then published (waiting for
/// the broker) and emptied, and only then are the inputs acknowledged.
///
/// A crash after the SQLite commit leaves the messages in the outbox: they are published at the next start,
/// before anything else, and the inputs come again to a dispatcher that already recorded them (it emits nothing
/// twice). A crash after publishing but before the outbox is emptied publishes those messages again; their ids
/// (event ids, `runId/stepId/attempt`) make the repeat harmless downstream.
public final class KafkaLedgerTransport: LedgerTransport, Sendable {
    public let kafka: KafkaTransport
    public let database: SQLiteDatabase
    private let gate = SerialGate()

    public init(kafka: KafkaTransport, database: SQLiteDatabase) throws {
        self.kafka = kafka
        self.database = database
        _ = try database.syncTransaction { db in
            try db.query(
                """
                CREATE TABLE IF NOT EXISTS relay_outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                    headers TEXT NOT NULL)
                """)
        }
    }

    public func publish(_ messages: [BusMessage]) async throws { try await kafka.publish(messages) }

    public func publish(_ messages: [BusMessage], acknowledging deliveries: [Delivery]) async throws {
        try await kafka.publish(messages, acknowledging: deliveries)
    }

    public func subscribe(topic: String, group: String) async throws -> any BusSubscription {
        try await kafka.subscribe(topic: topic, group: group)
    }

    public func transaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (SQLiteConnection) throws -> (T, [BusMessage])
    ) async throws -> T {
        let (value, wrote) = try await database.transaction { db -> (T, Bool) in
            let (value, messages) = try body(db)
            for message in messages {
                try db.query(
                    "INSERT INTO relay_outbox (topic, key, value, headers) VALUES (?, ?, ?, ?)",
                    [
                        .text(message.topic), .text(message.key), .blob(message.value),
                        .text(
                            JSONWriter.compact.string(
                                .object(
                                    JSONObject(
                                        uniqueKeysWithValues:
                                            message.headers.sorted { $0.key < $1.key }.map {
                                                ($0.key, JSONValue.string($0.value))
                                            })))),
                    ])
            }
            return (value, !messages.isEmpty)
        }
        if wrote { try await publishOutbox() }
        if !deliveries.isEmpty { try await kafka.publish([], acknowledging: deliveries) }
        return value
    }

    /// Publishes what the outbox holds, oldest first, and deletes it once the broker has it. One at a time.
    public func publishOutbox() async throws {
        await gate.enter()
        do {
            try await drainOutbox()
            await gate.leave()
        } catch {
            await gate.leave()
            throw error
        }
    }

    private func drainOutbox() async throws {
        while true {
            let rows = try await database.read { db in
                try db.query("SELECT seq, topic, key, value, headers FROM relay_outbox ORDER BY seq LIMIT 1000")
            }
            guard let last = rows.last?[0].int else { return }
            let messages = rows.map { row in
                var headers: [String: String] = [:]
                if let text = row[4].text, let object = try? JSONParser.parse(text).objectValue {
                    for (key, value) in object { headers[key] = value.stringValue }
                }
                return BusMessage(
                    topic: row[1].text ?? "", key: row[2].text ?? "", value: row[3].blob ?? [], headers: headers)
            }
            try await kafka.publish(messages)
            _ = try await database.transaction { db in
                try db.query("DELETE FROM relay_outbox WHERE seq <= ?", [.int(last)])
            }
        }
    }
}

/// One holder at a time, in arrival order.
actor SerialGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}
