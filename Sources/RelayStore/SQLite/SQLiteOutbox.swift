import RelayCore
import RelayTransport
import Synchronization

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

    /// What a committed decision put in the outbox: the rowid of its last message (nil: none), and the published
    /// rows it deleted (through which rowid; nil: none).
    struct Written: Sendable {
        var last: Int64?
        var deleted: Int64?
    }

    private struct State {
        /// The messages of the decisions committed since the last publish, in commit order, with the rowid of each
        /// batch's last row: published from here, not read back from the table.
        var committed: [(last: Int64, messages: [BusMessage])] = []
        /// Rows up to this rowid are published: the next decision deletes them, in its own transaction.
        var published: Int64 = 0
        var deleted: Int64 = 0
        /// The table holds what `committed` does not (at the start, or after a publish failed): read it first.
        var readBack = true
    }

    private let state = Mutex(State())

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

    /// Adds messages inside the caller's transaction, first deleting the rows published since the last decision
    /// (no transaction of their own); `committed` is to be called with what it returns once the transaction has
    /// committed, still holding the connection (so that batches are published in commit order).
    func insert(_ messages: [BusMessage], in db: SQLiteConnection) throws -> Written {
        var written = Written()
        let published = state.withLock { $0.published > $0.deleted ? $0.published : nil }
        if let published {
            try db.query("DELETE FROM relay_outbox WHERE seq <= ?", [.int(published)])
            written.deleted = published
        }
        for message in messages {
            try db.query(
                "INSERT INTO relay_outbox (\(MessageRow.columns)) VALUES (?, ?, ?, ?)", MessageRow.values(message))
        }
        if !messages.isEmpty { written.last = db.lastInsertRowID }
        return written
    }

    /// A decision that `insert` wrote to has committed.
    func committed(_ written: Written, messages: [BusMessage]) {
        state.withLock { state in
            if let deleted = written.deleted { state.deleted = max(state.deleted, deleted) }
            if let last = written.last { state.committed.append((last, messages)) }
        }
    }

    /// Publishes what the outbox holds, oldest first: the decisions committed since the last publish, as they were
    /// committed (and, at the start or after a failure, what the table holds first). One drain at a time, in the
    /// order callers arrive.
    func publish(through transport: any Transport) async throws {
        await gate.enter()
        do {
            try await drain(through: transport)
            await gate.leave()
        } catch {
            // (What was not published is in the table: the next drain reads it.)
            state.withLock { state in
                state.readBack = true
                state.committed = []
            }
            await gate.leave()
            throw error
        }
    }

    private func drain(through transport: any Transport) async throws {
        if state.withLock({ $0.readBack }) {
            try await drainTable(through: transport)
        }
        while true {
            let batches = state.withLock { state in
                defer { state.committed = [] }
                // (Batches the table's drain published already are passed over.)
                return state.committed.filter { $0.last > state.published }
            }
            guard let last = batches.last?.last else { return }
            try await transport.publish(batches.flatMap(\.messages))
            state.withLock { $0.published = max($0.published, last) }
        }
    }

    /// Publishes the table's rows not published yet, oldest first, deleting them once the transport has them.
    private func drainTable(through transport: any Transport) async throws {
        while true {
            let published = state.withLock { $0.published }
            let rows = try await database.read { db in
                try db.query(
                    "SELECT seq, \(MessageRow.columns) FROM relay_outbox WHERE seq > ? ORDER BY seq LIMIT 1000",
                    [.int(published)])
            }
            guard let last = rows.last?[0].int else {
                state.withLock { $0.readBack = false }
                return
            }
            try await transport.publish(rows.map { MessageRow.message($0, at: 1) })
            _ = try await database.transaction { db in
                try db.query("DELETE FROM relay_outbox WHERE seq <= ?", [.int(last)])
            }
            state.withLock { state in
                state.published = max(state.published, last)
                state.deleted = max(state.deleted, last)
            }
        }
    }

    /// Deletes the rows published since the last decision (when the dispatcher stops: else the next start would
    /// publish them again).
    func deletePublished() async throws {
        let published = state.withLock { $0.published > $0.deleted ? $0.published : nil }
        guard let published else { return }
        _ = try await database.transaction { db in
            try db.query("DELETE FROM relay_outbox WHERE seq <= ?", [.int(published)])
        }
        state.withLock { $0.deleted = max($0.deleted, published) }
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
