import RelayCore
import RelayTransport

/// The log of changes (`run_changes`): every run and step status change, written in the transaction that makes the
/// change, so that the log's order is the commit order. `GET /api/v1/stream` reads it from a sequence number on
/// (`Last-Event-ID`); it is pruned by age (`pruneChanges`).
///
/// On SQLite the connection's pre-update hook sees every row of `runs`, `steps` and `step_items` the connection
/// inserts or updates, whatever statement does it, and the log's rows are written just before the COMMIT, several
/// to a statement (`RunChangeRecorder`): no code path of the dispatcher can change a status without it being logged.
/// (Until issue #17's seventeenth round SQLite triggers wrote them, a row at a time: a trigger's program run for each
/// row changed was a quarter of SQLite's time in a burst; docs/benchmarks.md.) PostgreSQL's are written by triggers
/// (`SQLRunStore+PostgresSchema`).
///
/// It is on the dispatcher's hot path (about eight rows per run of three steps), so it is one B-tree: the sequence
/// is the rowid (no AUTOINCREMENT, whose `sqlite_sequence` row would be a second write per change) and there is no
/// secondary index (a stream reads from its position on by rowid; pruning scans from the oldest row, hourly).
/// Pruning always keeps the latest row, so that sequence numbers never go back.
extension SQLRunStore {
    /// The triggers that wrote SQLite's log before the pre-update hook did: dropped from a file that has them.
    static let changeLogTriggers = [
        "run_changes_run_added", "run_changes_run_changed", "run_changes_step_added", "run_changes_step_changed",
        "run_changes_item_added", "run_changes_item_changed",
    ]

    static func createChangeLog(_ db: any SQLSession) throws {
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS run_changes (
                seq INTEGER PRIMARY KEY, at REAL NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL,
                step_id TEXT, attempt INTEGER, item_index INTEGER, status TEXT NOT NULL);
            """)
        for trigger in changeLogTriggers { try db.execute("DROP TRIGGER IF EXISTS \(trigger)") }
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

/// Writes SQLite's change log (`run_changes`, above): sees each row of `runs`, `steps` and `step_items` the
/// connection inserts, or updates with another status (an item inserted `pending` is not a change), keeps what the
/// log needs of it (its texts' bytes in one buffer), and writes them just before the COMMIT, in the order they were
/// made, up to 64 to a statement.
final class RunChangeRecorder: SQLiteRowObserver, @unchecked Sendable {
    // @unchecked Sendable: `changes` and `bytes` are used only while the connection is held (`SQLiteRowObserver`).

    let tables = ["runs", "steps", "step_items"]

    /// A table's columns the log takes, by position (a file's columns are where its first version created them:
    /// later ones are added at the end), and its kind of change.
    struct Columns {
        var kind: StaticString
        var runID: Int32
        var stepID: Int32?
        var attempt: Int32?
        var itemIndex: Int32?
        var status: Int32
        /// A row inserted with this status is not a change (an item waiting for its turn).
        var quietInsert: StaticString?
    }

    /// A text kept in `Pending.bytes` (`count` < 0: NULL).
    struct Text {
        var start: Int
        var count: Int
    }

    struct Change {
        /// Where `Pending.bytes` ended before its texts were kept.
        var bytesBefore: Int
        var kind: StaticString
        var runID: Text
        var stepID: Text
        var attempt: Int64?
        var itemIndex: Int64?
        var status: Text
    }

    /// The changes of the transaction under way, their texts' bytes in one buffer: one value, so that recording a
    /// change is one access to the recorder's state.
    struct Pending {
        var changes: [Change] = []
        var bytes: [UInt8] = []

        mutating func record(_ change: SQLiteRowChange, _ columns: Columns) {
            let bytesBefore = bytes.count
            changes.append(
                Change(
                    bytesBefore: bytesBefore, kind: columns.kind, runID: keep(change, columns.runID),
                    stepID: keep(change, columns.stepID),
                    attempt: columns.attempt.flatMap(change.newInt),
                    itemIndex: columns.itemIndex.flatMap(change.newInt),
                    status: keep(change, columns.status)))
        }

        /// Column `column`'s new text, appended to `bytes`.
        private mutating func keep(_ change: SQLiteRowChange, _ column: Int32?) -> Text {
            guard let column else { return Text(start: 0, count: -1) }
            return change.withNewText(column) { text in
                guard let text else { return Text(start: 0, count: -1) }
                let start = bytes.count
                bytes.append(contentsOf: text)
                return Text(start: start, count: text.count)
            }
        }

        mutating func removeAll() {
            changes.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
        }

        /// Forgets the changes after the first `count`.
        mutating func keepFirst(_ count: Int) {
            guard count < changes.count else { return }
            bytes.removeSubrange(changes[count].bytesBefore...)
            changes.removeSubrange(count...)
        }
    }

    /// By table, as in `tables`.
    let columns: [Columns]
    private var pending = Pending()
    /// The buffers of the last changes written, kept for the next commit's (swapped with `pending`'s).
    private var spare = Pending()
    /// `PRAGMA schema_version` when it was last seen, and whether the file had any of the old triggers then: a
    /// process of an earlier version on the same file re-creates them, and while they are there they write the log
    /// (this recorder then writes nothing, so that no change is logged twice).
    private var schema: (version: Int64, triggers: Bool)?

    /// The recorder for `db`'s tables (their columns read from the schema).
    init(_ db: any SQLSession) throws {
        func read(_ table: String, kind: StaticString, runID: String, quietInsert: StaticString? = nil) throws
            -> Columns
        {
            var position: [String: Int32] = [:]
            for row in try db.query("PRAGMA table_info(\(table))") {
                if let name = row[1].text, let cid = row[0].int { position[name] = Int32(cid) }
            }
            guard let run = position[runID], let status = position["status"] else {
                throw RelayError(.io, "SQLite: the table \(table) has no \(runID) or status column")
            }
            return Columns(
                kind: kind, runID: run, stepID: position["step_id"], attempt: position["attempt"],
                itemIndex: position["item_index"], status: status, quietInsert: quietInsert)
        }
        columns = [
            try read("runs", kind: "run", runID: "id"), try read("steps", kind: "step", runID: "run_id"),
            try read("step_items", kind: "item", runID: "run_id", quietInsert: "pending"),
        ]
    }

    func rowWillChange(_ change: SQLiteRowChange) {
        let columns = columns[change.table]
        switch change.operation {
        case .delete: return
        case .update: guard change.changes(columns.status) else { return }
        case .insert:
            if let quiet = columns.quietInsert,
                change.withNewText(columns.status, { $0.map { Self.equal($0, quiet) } ?? false })
            {
                return
            }
        }
        pending.record(change, columns)
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.elementsEqual(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Writes the transaction's changes, each at the time of the commit (when they become visible).
    func willCommit(_ connection: SQLiteConnection) throws {
        guard !pending.changes.isEmpty else { return }
        swap(&pending, &spare)
        defer { spare.removeAll() }
        guard try !triggersWrite(connection) else { return }
        let at = RunTime.now()
        let changes = spare.changes
        try spare.bytes.withUnsafeBytes { kept in
            func text(_ text: Text) -> UnsafeRawBufferPointer? {
                text.count < 0 ? nil : UnsafeRawBufferPointer(rebasing: kept[text.start..<text.start + text.count])
            }
            var start = 0
            while start < changes.count {
                // 64, 32, … 1 to a statement: seven texts at most in the connection's statement cache.
                var count = 64
                while count > changes.count - start { count /= 2 }
                try connection.run(Self.inserts[count.trailingZeroBitCount]) { values in
                    for change in changes[start..<start + count] {
                        values.bind(at)
                        values.bind(text: text(change.runID))
                        values.bind(
                            text: UnsafeRawBufferPointer(
                                start: change.kind.utf8Start, count: change.kind.utf8CodeUnitCount))
                        values.bind(text: text(change.stepID))
                        values.bind(change.attempt)
                        values.bind(change.itemIndex)
                        values.bind(text: text(change.status))
                    }
                }
                start += count
            }
        }
    }

    /// Whether the file has any of the old triggers (read again only when its schema changed).
    private func triggersWrite(_ connection: SQLiteConnection) throws -> Bool {
        let version = try connection.query("PRAGMA schema_version").first?.first?.int ?? 0
        if let schema, schema.version == version { return schema.triggers }
        let names = SQLRunStore.changeLogTriggers.map { "'\($0)'" }.joined(separator: ", ")
        let found =
            try connection.query(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (\(names))"
            ).first?.first?.int ?? 0
        schema = (version, found > 0)
        return found > 0
    }

    func rolledBack() { pending.removeAll() }

    var savepoint: Int { pending.changes.count }

    func rollBack(to savepoint: Int) { pending.keepFirst(savepoint) }

    /// The statements that write 2ⁿ changes, by n (0 … 6).
    static let inserts: [String] = (0...6).map { power in
        "INSERT INTO run_changes (at, run_id, kind, step_id, attempt, item_index, status) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: 1 << power).joined(separator: ", ")
    }
}
