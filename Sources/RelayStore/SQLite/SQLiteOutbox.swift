import RelayCore
import RelayTransport

/// Messages a decision causes, written in the decision's SQLite transaction and published afterwards through any
/// transport (Kafka): the way a dispatcher whose run store is not the bus commits a decision with its messages.
///
/// A crash after the commit leaves the messages in the outbox: `publish(through:)` at the next start sends them
/// before anything else is decided, and the inputs, not yet acknowledged, come again to a dispatcher that already
/// recorded them (it emits nothing twice). A crash after publishing but before the outbox is emptied publishes
/// those messages again; their ids (event ids, `runId/stepId/attempt`) make the repeat harmless downstream.
///
/// Rows are bus messages in `MessageRow`'s form, like the embedded bus's own table.
final class SQLiteOutbox: Sendable {
    let database: SQLiteDatabase
    private let gate = SerialGate()

    init(database: SQLiteDatabase) throws {
        self.database = database
        try database.syncTransaction { db in
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS relay_outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                    headers TEXT NOT NULL)
                """)
        }
    }

    /// Adds messages inside the caller's transaction.
    func insert(_ messages: [BusMessage], in db: SQLiteConnection) throws {
        for message in messages {
            try db.query(
                "INSERT INTO relay_outbox (\(MessageRow.columns)) VALUES (?, ?, ?, ?)", MessageRow.values(message))
        }
    }

    /// Publishes what the outbox holds, oldest first, and deletes it once the transport has it. One drain at a
    /// time, in the order callers arrive.
    func publish(through transport: any Transport) async throws {
        await gate.enter()
        do {
            try await drain(through: transport)
            await gate.leave()
        } catch {
            await gate.leave()
            throw error
        }
    }

    private func drain(through transport: any Transport) async throws {
        while true {
            let rows = try await database.read { db in
                try db.query("SELECT seq, \(MessageRow.columns) FROM relay_outbox ORDER BY seq LIMIT 1000")
            }
            guard let last = rows.last?[0].int else { return }
            try await transport.publish(rows.map { MessageRow.message($0, at: 1) })
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
