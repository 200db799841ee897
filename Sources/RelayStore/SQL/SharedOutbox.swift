import Foundation
import RelayCore
import RelayTransport

/// The outbox of a run store that several dispatchers share (PostgreSQL): the messages a decision causes are written
/// in the decision's transaction, each row leased to the dispatcher that wrote it for `leaseSeconds`; after the
/// commit that dispatcher publishes them (it has them in memory) and deletes them. A dispatcher that dies between
/// its commit and the delete leaves rows whose lease runs out: any live dispatcher takes them over
/// (`publishAbandoned`, at its start and then every few seconds), publishes them and deletes them.
///
/// Rows are taken over by `UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED)`: two dispatchers never take
/// the same row, and a row is published twice only when its publisher died after publishing and before deleting
/// (or was stalled for longer than the lease): their ids (event ids, `runId/stepId/attempt`) make the repeat
/// harmless downstream, as for `SQLiteOutbox`.
final class SharedOutbox: Sendable {
    let database: any SQLDatabase
    /// Who writes: this process (a new id at every start, so that a restarted dispatcher's old rows count as
    /// another's).
    let owner: String
    let leaseSeconds: Double

    /// One message written, by its row number.
    struct Row: Sendable {
        var seq: Int64
        var message: BusMessage
    }

    init(database: any SQLDatabase, leaseSeconds: Double = 10) {
        self.database = database
        self.leaseSeconds = leaseSeconds
        // (Not the host's name: Foundation resolves it through DNS, which can hang a start where none answers.)
        owner = "\(getpid())/\(UUID().uuidString.lowercased())"
    }

    /// Adds messages inside the caller's transaction, leased to this process.
    func insert(_ messages: [BusMessage], in db: any SQLSession) throws -> [Row] {
        let until = RunTime.now() + leaseSeconds
        return try messages.map { message in
            let seq =
                try db.query(
                    """
                    INSERT INTO relay_outbox (\(MessageRow.columns), owner, leased_until) VALUES (?, ?, ?, ?, ?, ?)
                    RETURNING seq
                    """, MessageRow.values(message) + [.text(owner), .double(until)]
                ).first?[0].int ?? 0
            return Row(seq: seq, message: message)
        }
    }

    /// Publishes rows this process wrote (committed), then deletes them.
    func publish(_ rows: [Row], through transport: any Transport) async throws {
        try await transport.publish(rows.map(\.message))
        let seqs = rows.map { SQLValue.int($0.seq) }
        try await database.writeTransaction { db in
            for chunk in stride(from: 0, to: seqs.count, by: 500) {
                let part = Array(seqs[chunk..<min(chunk + 500, seqs.count)])
                let marks = Array(repeating: "?", count: part.count).joined(separator: ", ")
                try db.query("DELETE FROM relay_outbox WHERE seq IN (\(marks))", part)
            }
        }
    }

    /// Takes over the rows whose lease has run out (their writer died, or is stalled), oldest first, publishes them
    /// and deletes them; returns how many.
    @discardableResult
    func publishAbandoned(through transport: any Transport) async throws -> Int {
        var total = 0
        while true {
            let owner = owner
            let leaseSeconds = leaseSeconds
            let rows = try await database.writeTransaction { db -> [Row] in
                let now = RunTime.now()
                return try db.query(
                    """
                    UPDATE relay_outbox SET owner = ?, leased_until = ?
                    WHERE seq IN (
                        SELECT seq FROM relay_outbox WHERE leased_until < ? ORDER BY seq LIMIT 500
                        \(db.dialect.forUpdateSkipLocked))
                    RETURNING seq, \(MessageRow.columns)
                    """, [.text(owner), .double(now + leaseSeconds), .double(now)]
                ).map { Row(seq: $0[0].int ?? 0, message: MessageRow.message($0, at: 1)) }.sorted { $0.seq < $1.seq }
            }
            guard !rows.isEmpty else { return total }
            try await publish(rows, through: transport)
            total += rows.count
        }
    }
}
