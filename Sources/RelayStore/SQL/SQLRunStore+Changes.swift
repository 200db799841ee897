import RelayCore
import RelayTransport

/// The log of changes (`run_changes`): every run and step status change, written by SQLite triggers on `runs`,
/// `steps` and `step_items` in the transaction that makes the change, so that no code path of the dispatcher can
/// change a status without it being logged, and the log's order is the commit order. `GET /api/v1/stream` reads it
/// from a sequence number on (`Last-Event-ID`); it is pruned by age (`pruneChanges`).
///
/// It is on the dispatcher's hot path (about eight rows per run of three steps), so it is one B-tree: the sequence
/// is the rowid (no AUTOINCREMENT, whose `sqlite_sequence` row would be a second write per change) and there is no
/// secondary index (a stream reads from its position on by rowid; pruning scans from the oldest row, hourly).
/// Pruning always keeps the latest row, so that sequence numbers never go back.
extension SQLRunStore {
    static func createChangeLog(_ db: any SQLSession) throws {
        // Seconds since 1970 with fractions, as the store's other times (julianday: SQLite 3.40 has no
        // unixepoch('subsec')).
        let now = "((julianday('now') - 2440587.5) * 86400.0)"
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS run_changes (
                seq INTEGER PRIMARY KEY, at REAL NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL,
                step_id TEXT, attempt INTEGER, item_index INTEGER, status TEXT NOT NULL);
            CREATE TRIGGER IF NOT EXISTS run_changes_run_added AFTER INSERT ON runs BEGIN
                INSERT INTO run_changes (at, run_id, kind, status) VALUES (\(now), NEW.id, 'run', NEW.status);
            END;
            CREATE TRIGGER IF NOT EXISTS run_changes_run_changed AFTER UPDATE OF status ON runs
                WHEN OLD.status IS NOT NEW.status BEGIN
                INSERT INTO run_changes (at, run_id, kind, status) VALUES (\(now), NEW.id, 'run', NEW.status);
            END;
            CREATE TRIGGER IF NOT EXISTS run_changes_step_added AFTER INSERT ON steps BEGIN
                INSERT INTO run_changes (at, run_id, kind, step_id, attempt, status)
                VALUES (\(now), NEW.run_id, 'step', NEW.step_id, NEW.attempt, NEW.status);
            END;
            CREATE TRIGGER IF NOT EXISTS run_changes_step_changed AFTER UPDATE OF status ON steps
                WHEN OLD.status IS NOT NEW.status BEGIN
                INSERT INTO run_changes (at, run_id, kind, step_id, attempt, status)
                VALUES (\(now), NEW.run_id, 'step', NEW.step_id, NEW.attempt, NEW.status);
            END;
            CREATE TRIGGER IF NOT EXISTS run_changes_item_added AFTER INSERT ON step_items
                WHEN NEW.status IS NOT 'pending' BEGIN
                INSERT INTO run_changes (at, run_id, kind, step_id, attempt, item_index, status)
                VALUES (\(now), NEW.run_id, 'item', NEW.step_id, NEW.attempt, NEW.item_index, NEW.status);
            END;
            CREATE TRIGGER IF NOT EXISTS run_changes_item_changed AFTER UPDATE OF status ON step_items
                WHEN OLD.status IS NOT NEW.status BEGIN
                INSERT INTO run_changes (at, run_id, kind, step_id, attempt, item_index, status)
                VALUES (\(now), NEW.run_id, 'item', NEW.step_id, NEW.attempt, NEW.item_index, NEW.status);
            END;
            """)
    }

    /// Changes after `sequence`, oldest first (at most `limit`), of one run when `runID` is given.
    public func changes(after sequence: Int64, runID: String?, limit: Int) async throws -> [RunChange] {
        try await database.readSession { db in
            var sql = """
                SELECT c.seq, c.kind, c.run_id, COALESCE(r.workflow, ''), c.step_id, c.attempt, c.item_index, c.status,
                    c.at
                FROM run_changes c LEFT JOIN runs r ON r.id = c.run_id WHERE c.seq > ?
                """
            var values: [SQLValue] = [.int(sequence)]
            if let runID {
                sql += " AND c.run_id = ?"
                values.append(.text(runID))
            }
            return try db.query(sql + " ORDER BY c.seq LIMIT ?", values + [.int(Int64(max(1, limit)))]).map { row in
                RunChange(
                    sequence: row[0].int ?? 0, kind: row[1].text.flatMap(RunChange.Kind.init(rawValue:)) ?? .run,
                    runID: row[2].text ?? "", workflow: row[3].text ?? "", stepID: row[4].text,
                    attempt: row[5].int.map { Int($0) }, itemIndex: row[6].int.map { Int($0) },
                    status: row[7].text ?? "", at: Self.double(row[8]) ?? 0)
            }
        }
    }

    /// The sequence number of the latest change logged (0 when there was none; pruning keeps it), and of the
    /// oldest change still kept (the latest + 1 when none is).
    public func changeSequences() async throws -> (latest: Int64, oldest: Int64) {
        try await database.readSession { db in
            let row = try db.query("SELECT MAX(seq), MIN(seq) FROM run_changes").first
            let latest = row?[0].int ?? 0
            return (latest, row?[1].int ?? latest + 1)
        }
    }

    /// Deletes the oldest changes logged before `time`, at most 10,000; returns how many.
    @discardableResult
    public func pruneChanges(before time: Double) async throws -> Int {
        try await database.writeTransaction { db in
            // At most 10,000 at a time (the dispatcher shares the database and waits while this runs), oldest first,
            // never the latest row (sequence numbers must not go back).
            try db.query(
                """
                DELETE FROM run_changes WHERE seq IN (
                    SELECT seq FROM run_changes WHERE at < ? AND seq < (SELECT MAX(seq) FROM run_changes)
                    ORDER BY seq LIMIT 10000)
                """, [.double(time)])
            return db.changes
        }
    }
}
