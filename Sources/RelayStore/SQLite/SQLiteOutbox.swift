import RelayCore
import RelayTransport
import Synchronization

/// Messages a decision causes, written in the decision's SQLite transaction and published afterwards through any
/// transport (Kafka): the way a dispatcher whose run store is not the bus commits a decision with its messages.
///
/// A crash after the commit leaves the messages in the outbox: `publishAll(through:)` at the next start sends them
/// before anything else is decided, and the inputs, not yet acknowledged, come again to a dispatcher that already
/// recorded them (it emits nothing twice). A crash after publishing but before the outbox is emptied publishes
/// those messages again; their ids (event ids, `runId/stepId/attempt`) make the repeat harmless downstream.
///
/// While the process runs, a committed decision's messages are published from memory, in commit order (kept as
/// the decision commits, the connection still held), not read back from the table; the rows this process
/// published are deleted by its next decision, in that decision's transaction (and when it stops). Another process
/// may write the same table (`relay dlq redrive` beside a running dispatcher): its rows are never deleted unless
/// published, by it or by the dispatcher's `publishAll` (at the start and every few seconds: `Dispatcher`'s
/// outbox sweep), which reads the whole table.
///
/// Rows are bus messages in `MessageRow`'s form, like the embedded bus's own table.
final class SQLiteOutbox: Sendable {
    let database: SQLiteDatabase
    private let gate = SerialGate()

    /// What a committed decision put in the outbox: the rowids of its messages (nil: none; a transaction's rows are
    /// consecutive), and the published ranges (`State.published`) it deleted.
    struct Written: Sendable {
        var rows: ClosedRange<Int64>?
        var deleted: [ClosedRange<Int64>] = []
    }

    private struct State {
        /// The messages of the decisions committed since the last publish, in commit order, with their rows: published
        /// from here, not read back from the table.
        var committed: [(rows: ClosedRange<Int64>, messages: [BusMessage])] = []
        /// The rows of this process's decisions published and not deleted yet: the next decision deletes them, in its
        /// own transaction. (Only these: another process may write the table too, `relay dlq redrive`.)
        var published: [ClosedRange<Int64>] = []
        /// The highest row published by this process, from memory or from the table.
        var highest: Int64 = 0
        /// A publish failed: the next one reads the table first.
        var readBack = false
        /// The highest row in the table when `publishAll` last read it (nil: never read). Another process's rows are
        /// published by `publishAll` only once they are older than that (`publishAll`).
        var swept: Int64?
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

    /// Adds messages inside the caller's transaction, first deleting the rows this process published since the
    /// last decision (no transaction of their own); `committed` is to be called with what it returns once the
    /// transaction has committed, still holding the connection (so that batches are published in commit order).
    func insert(_ messages: [BusMessage], in db: SQLiteConnection) throws -> Written {
        var written = Written()
        written.deleted = state.withLock { $0.published }
        try Self.delete(written.deleted, in: db)
        for message in messages {
            try db.query(
                "INSERT INTO relay_outbox (\(MessageRow.columns)) VALUES (?, ?, ?, ?)", MessageRow.values(message))
        }
        if !messages.isEmpty {
            let last = db.lastInsertRowID
            written.rows = (last - Int64(messages.count) + 1)...last
        }
        return written
    }

    /// Deletes rows, ranges next to each other in one statement.
    private static func delete(_ ranges: [ClosedRange<Int64>], in db: SQLiteConnection) throws {
        var merged: [ClosedRange<Int64>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, last.upperBound + 1 >= range.lowerBound {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        for range in merged {
            try db.query(
                "DELETE FROM relay_outbox WHERE seq BETWEEN ? AND ?", [.int(range.lowerBound), .int(range.upperBound)])
        }
    }

    /// A decision that `insert` wrote to has committed.
    func committed(_ written: Written, messages: [BusMessage]) {
        state.withLock { state in
            state.published.removeAll { written.deleted.contains($0) }
            if let rows = written.rows { state.committed.append((rows, messages)) }
        }
    }

    /// Publishes the decisions committed since the last publish, oldest first, as they were committed (reading the
    /// table first after a publish failed). One drain at a time, in the order callers arrive.
    func publish(through transport: any Transport) async throws {
        try await publish(through: transport, readingTable: false)
    }

    /// `publish`, reading the table first: what is there and not published (a crashed process's decisions,
    /// another process's), oldest first, is published and deleted. At the start (all of it), and now and then: then
    /// only the rows that were there already when it last read the table, so that a command writing the same file
    /// (`relay dlq redrive`) has that long to publish its own rows before the dispatcher takes them as left over.
    func publishAll(through transport: any Transport) async throws {
        try await publish(through: transport, readingTable: true)
    }

    private func publish(through transport: any Transport, readingTable: Bool) async throws {
        await gate.enter()
        do {
            let (readBack, swept) = state.withLock { ($0.readBack, $0.swept) }
            if readBack {
                try await drainTable(through: transport, upTo: .max)
            } else if readingTable {
                let highest = try await database.read { db in
                    try db.query("SELECT MAX(seq) FROM relay_outbox").first?[0].int ?? 0
                }
                try await drainTable(through: transport, upTo: swept ?? .max)
                state.withLock { $0.swept = highest }
            }
            try await drain(through: transport)
            await gate.leave()
        } catch {
            // (What was not published is in the table: the next publish reads it.)
            state.withLock { $0.readBack = true }
            await gate.leave()
            throw error
        }
    }

    private func drain(through transport: any Transport) async throws {
        while true {
            let batches = state.withLock { state in
                defer { state.committed = [] }
                // (Batches a drain of the table published already are passed over.)
                return state.committed.filter { $0.rows.upperBound > state.highest }
            }
            guard let last = batches.last?.rows.upperBound else { return }
            // (Should it fail, they are in the table, which the next publish reads.)
            try await transport.publish(batches.flatMap(\.messages))
            state.withLock { state in
                state.published += batches.map(\.rows)
                state.highest = max(state.highest, last)
            }
        }
    }

    /// Publishes the table's rows up to `limit`, oldest first, deleting them once the transport has them (this
    /// process's published rows deleted first).
    private func drainTable(through transport: any Transport, upTo limit: Int64) async throws {
        try await deletePublished()
        while true {
            let rows = try await database.read { db in
                try db.query(
                    "SELECT seq, \(MessageRow.columns) FROM relay_outbox WHERE seq <= ? ORDER BY seq LIMIT 1000",
                    [.int(limit)])
            }
            guard let last = rows.last?[0].int else { break }
            try await transport.publish(rows.map { MessageRow.message($0, at: 1) })
            state.withLock { $0.highest = max($0.highest, last) }
            _ = try await database.transaction { db in
                try db.query("DELETE FROM relay_outbox WHERE seq <= ?", [.int(last)])
            }
        }
        state.withLock { $0.readBack = false }
    }

    /// Deletes the rows this process published and no decision has deleted since (when the dispatcher stops: else
    /// the next start would publish them again).
    func deletePublished() async throws {
        let published = state.withLock { $0.published }
        guard !published.isEmpty else { return }
        _ = try await database.transaction { db in try Self.delete(published, in: db) }
        state.withLock { state in state.published.removeAll { published.contains($0) } }
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
