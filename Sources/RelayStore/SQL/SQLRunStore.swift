import Foundation
import RelayCore
import RelayTransport

/// The run store on a SQL database: one implementation of its SQL for SQLite (the embedded default, and a single
/// dispatcher on Kafka) and PostgreSQL (any number of dispatchers on Kafka sharing one store; docs/postgres.md).
/// Where the two differ (the schema, how the change log is written: SQLite's pre-update hook or PostgreSQL's
/// triggers, row locks) the code asks the session's dialect.
///
/// Three ways to commit a decision with what it publishes and acknowledges:
///
/// - **With the embedded bus** (`relay up`): the run store's tables live in the bus's database file, so the
///   decision, the published messages and the acknowledgement are one SQLite transaction.
/// - **With an outbox in SQLite** (`relay dispatcher` on Kafka with its own file): the messages are written to the
///   outbox table in the decision's transaction, then published through the transport (deleted by the next
///   decision), and only then is the input acknowledged (`SQLiteOutbox` says why that is enough).
/// - **With a shared outbox in PostgreSQL** (`relay dispatcher --store postgres://…`, one or several): the same,
///   with each outbox row leased to the dispatcher that wrote it, so that another one publishes it only when its
///   writer died before it could (`SharedOutbox`).
public final class SQLRunStore: RunStore, Sendable {
    public let database: any SQLDatabase
    private let commit: Commit
    /// Where `pipelinedTransaction` leaves what its outbox publishes (nil on the embedded bus, and for a reader).
    private let pipeline: PublishPipeline?
    /// The trigger events of runs in flight, for the decisions' scopes.
    private let triggers = TriggerEventCache()
    /// The runs in flight as the decisions on this SQLite connection left them (nil on PostgreSQL).
    private let runStates: RunStateCache?

    private enum Commit: Sendable {
        case embedded(EmbeddedBus)
        case outbox(SQLiteOutbox, any Transport)
        case shared(SharedOutbox, any Transport)
        /// A reader of a store another process writes.
        case none
    }

    /// The store in the embedded bus's database: one transaction for all three.
    public init(bus: EmbeddedBus) throws {
        database = bus.database
        commit = .embedded(bus)
        pipeline = nil
        runStates = RunStateCache.cache(for: bus.database)
        try Self.createTables(database)
    }

    /// The store in `database`, publishing through `transport` by an outbox in the same database: a SQLite file's
    /// own outbox, or PostgreSQL's shared one. PostgreSQL's schema is brought to this version's first
    /// (`migrate(_:)`).
    /// `outboxLease`: on PostgreSQL, how long another dispatcher leaves this one's unpublished messages alone
    /// (`SharedOutbox`).
    public init(database: any SQLDatabase, publishingTo transport: any Transport, outboxLease: Double = 10) throws {
        self.database = database
        pipeline = PublishPipeline(transport: transport)
        switch database.dialect {
        case .sqlite:
            guard let file = database as? SQLiteDatabase else {
                throw RelayError(.configuration, "\(database.location): a SQLite store must be a SQLiteDatabase")
            }
            commit = .outbox(try SQLiteOutbox(database: file), transport)
            runStates = RunStateCache.cache(for: file)
            try Self.createTables(database)
        case .postgres:
            try Self.migrate(database)
            commit = .shared(SharedOutbox(database: database, leaseSeconds: outboxLease), transport)
            runStates = nil
        }
    }

    /// A reader of the store another process writes (`relay runs`, `relay bench`): it creates nothing, and its
    /// transactions fail.
    public init(readingFrom database: any SQLDatabase) {
        self.database = database
        commit = .none
        pipeline = nil
        runStates = nil
    }

    /// The schema: SQLite's created (and extended) in place, PostgreSQL's by its versioned migrations.
    static func createTables(_ database: any SQLDatabase) throws {
        guard database.dialect == .sqlite else {
            try migrate(database)
            return
        }
        try database.syncWriteTransaction { db in
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, instance TEXT NOT NULL,
                    received_at REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS runs (
                    id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, event_id TEXT NOT NULL,
                    trigger_event TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, error TEXT);
                CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);
                CREATE TABLE IF NOT EXISTS workflow_versions (
                    hash TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, source TEXT NOT NULL,
                    created_at REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS steps (
                    job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
                    status TEXT NOT NULL, input TEXT, output TEXT, error TEXT, exception TEXT,
                    scheduled_at REAL NOT NULL, started_at REAL, finished_at REAL);
                CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id, scheduled_at);
                CREATE TABLE IF NOT EXISTS step_items (
                    job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, item_index INTEGER NOT NULL,
                    attempt INTEGER NOT NULL, status TEXT NOT NULL, item TEXT NOT NULL, input TEXT, output TEXT,
                    error TEXT, exception TEXT, scheduled_at REAL NOT NULL, started_at REAL, finished_at REAL);
                CREATE INDEX IF NOT EXISTS step_items_step ON step_items(run_id, step_id, status, item_index);
                CREATE TABLE IF NOT EXISTS scheduled_jobs (
                    job_id TEXT PRIMARY KEY, due_at REAL NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL,
                    value BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS scheduled_jobs_due ON scheduled_jobs(due_at);
                CREATE TABLE IF NOT EXISTS job_deadlines (
                    job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, workflow TEXT NOT NULL, seconds REAL NOT NULL,
                    error TEXT NOT NULL, due_at REAL, expired_at REAL, late_status TEXT, late_error TEXT,
                    late_at REAL);
                CREATE INDEX IF NOT EXISTS job_deadlines_due ON job_deadlines(due_at) WHERE expired_at IS NULL;
                CREATE TABLE IF NOT EXISTS artifacts (
                    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, job_id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL, format TEXT NOT NULL, content TEXT NOT NULL, created_at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS artifacts_run ON artifacts(run_id, id);
                CREATE TABLE IF NOT EXISTS global_artifacts (
                    name TEXT NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, run_id TEXT NOT NULL,
                    step_id TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (name, position));
                """)
            // Columns added since the first release: a file written before them gains them (empty).
            try addColumns(
                db, table: "runs",
                [
                    ("workflow_hash", "TEXT"), ("parent_run_id", "TEXT"), ("parent_step_id", "TEXT"),
                    ("parent_job_id", "TEXT"), ("output", "TEXT"), ("deadline_at", "REAL"), ("timeout_seconds", "REAL"),
                ])
            try addColumns(db, table: "scheduled_jobs", [("headers", "TEXT")])
            // A step's job deadline is in its attempt's row (`SQLRunStoreTransaction+Deadlines`).
            try addColumns(
                db, table: "steps",
                [("log", "TEXT"), ("deadline_seconds", "REAL"), ("deadline_error", "TEXT"), ("deadline_due", "REAL")])
            // An item's job deadline is in its attempt's row too.
            try addColumns(
                db, table: "step_items",
                [("log", "TEXT"), ("deadline_seconds", "REAL"), ("deadline_error", "TEXT"), ("deadline_due", "REAL")])
            try db.execute(
                """
                CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
                CREATE INDEX IF NOT EXISTS runs_deadline ON runs(deadline_at) WHERE deadline_at IS NOT NULL;
                CREATE INDEX IF NOT EXISTS job_deadlines_late ON job_deadlines(run_id) WHERE late_status IS NOT NULL;
                CREATE INDEX IF NOT EXISTS steps_deadline_due ON steps(deadline_due) WHERE deadline_due IS NOT NULL;
                CREATE INDEX IF NOT EXISTS step_items_deadline_due ON step_items(deadline_due)
                    WHERE deadline_due IS NOT NULL;
                """)
            try createChangeLog(db)
            try createDeadLetterAndEventTables(db)
        }
        // The change log is written by the connection's pre-update hook (`RunChangeRecorder`).
        if let file = database as? SQLiteDatabase {
            file.observeRowChanges(try file.syncTransaction { try RunChangeRecorder($0) })
        }
    }

    /// Adds the columns `table` lacks.
    static func addColumns(_ db: any SQLSession, table: String, _ columns: [(String, String)]) throws {
        let existing = Set(try db.query("PRAGMA table_info(\(table))").compactMap { $0[1].text })
        for (name, type) in columns where !existing.contains(name) {
            try db.execute("ALTER TABLE \(table) ADD COLUMN \(name) \(type)")
        }
    }

    public func transaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (any RunStoreTransaction) throws -> (T, [BusMessage])
    ) async throws -> T {
        if case .embedded(let bus) = commit {
            let (decide, staging, runStates) = decision(body)
            // (The caches before the connection is free: a job just published finds its run and its event there.)
            return try await bus.transaction(
                acknowledging: deliveries, { db in try decide(db) },
                afterCommit: {
                    runStates?.commit()
                    staging.commit()
                })
        }
        let (value, publish, transport) = try await commitToOutbox(body)
        try await publish?()
        // (Not pipelined: a command's one decision, `relay dlq redrive`, or now and then a dispatcher's. Its rows are
        // deleted now, not left to a next decision that may never come.)
        if publish != nil, case .outbox(let outbox, _) = commit { try await outbox.deletePublished() }
        if !deliveries.isEmpty { try await transport.publish([], acknowledging: deliveries) }
        return value
    }

    public func pipelinedTransaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (any RunStoreTransaction) throws -> (T, [BusMessage])
    ) async throws -> T {
        guard let pipeline else { return try await transaction(acknowledging: deliveries, body) }
        let (value, publish, _) = try await commitToOutbox(body)
        try await pipeline.submit(publish: publish, acknowledging: deliveries)
        return value
    }

    /// Publishes what a decision wrote to an outbox.
    typealias Publish = @Sendable () async throws -> Void

    /// Commits `body`'s decision with its messages in the outbox (SQLite's own, or PostgreSQL's shared one);
    /// returns its value, what publishes those messages (nil: it wrote none) and the transport they go through.
    private func commitToOutbox<T: Sendable>(
        _ body: @escaping @Sendable (any RunStoreTransaction) throws -> (T, [BusMessage])
    ) async throws -> (T, Publish?, any Transport) {
        let (decide, staging, runStates) = decision(body)
        switch commit {
        case .outbox(let outbox, let transport):
            let (value, _, written) = try await outbox.database.transaction(
                { db -> (T, [BusMessage], SQLiteOutbox.Written) in
                    let (value, messages) = try decide(db)
                    return (value, messages, try outbox.insert(messages, in: db))
                },
                afterCommit: { _, messages, written in
                    outbox.committed(written, messages: messages)
                    runStates?.commit()
                    staging.commit()
                })
            // (The outbox is published whole, oldest first: these messages, and any committed since.)
            let publish: Publish = { try await outbox.publish(through: transport) }
            return (value, written.rows != nil ? publish : nil, transport)
        case .shared(let outbox, let transport):
            let (value, written) = try await database.writeTransaction { db -> (T, [SharedOutbox.Row]) in
                let (value, messages) = try decide(db)
                return (value, try outbox.insert(messages, in: db))
            }
            staging.commit()
            let publish: Publish = { try await outbox.publish(written, through: transport) }
            return (value, written.isEmpty ? nil : publish, transport)
        case .embedded, .none:
            throw RelayError(.configuration, "\(database.location): this run store was opened for reading only")
        }
    }

    /// The body over a transaction of this store, and the views of the trigger-event cache and of the connection's
    /// runs in flight it decides with (to commit once the transaction has; the runs' while the connection is still
    /// held, before any other transaction can read them).
    private func decision<T>(
        _ body: @escaping @Sendable (any RunStoreTransaction) throws -> (T, [BusMessage])
    ) -> (
        @Sendable (any SQLSession) throws -> (T, [BusMessage]), TriggerEventCache.Staging, RunStateCache.View?
    ) {
        let staging = TriggerEventCache.Staging(triggers)
        let view = runStates.map(RunStateCache.View.init)
        return (
            { db in
                let tx = SQLRunStoreTransaction(db: db, triggers: staging, runStates: view)
                if let view {
                    // Another connection's commit since this connection's last transaction changes it.
                    let dataVersion = try db.query("PRAGMA data_version").first?.first?.int
                    view.begin(dataVersion: dataVersion, rows: tx.stepRows, records: tx.runRecords, items: tx.itemRows)
                }
                let decided = try body(tx)
                try tx.writeStagedDeadlines()
                return decided
            }, staging, view
        )
    }

    public func speculation(runID: String) -> RunSpeculation? {
        guard let entry = runStates?.entry(runID), entry.record.status == .running, let trigger = triggers[runID] else {
            return nil
        }
        return RunSpeculation(entry: entry, trigger: trigger)
    }

    public func newRunSpeculation(runID: String) -> RunSpeculation? {
        // (Where runs in flight are kept: the store whose transactions apply speculations.)
        guard runStates != nil else { return nil }
        return RunSpeculation(newRunID: runID, startedAt: RunTime.now())
    }

    public func sharesTransactions(with transport: any Transport) -> Bool {
        guard case .embedded(let bus) = commit, let other = transport as? EmbeddedBus else { return false }
        return bus === other
    }

    public func flush() async throws {
        try await pipeline?.flush()
        if case .outbox(let outbox, _) = commit { try await outbox.deletePublished() }
    }

    public func publishPending() async throws {
        switch commit {
        case .outbox(let outbox, let transport): try await outbox.publishAll(through: transport)
        case .shared(let outbox, let transport): try await outbox.publishAbandoned(through: transport)
        case .embedded, .none: break
        }
    }

    // MARK: - Reads

    /// The columns of `runs` a reader selects, `NULL` for those a file written by an earlier version lacks (a
    /// reader never alters the file: `relay up` adds them when it starts).
    static func runColumns(_ db: any SQLSession, _ names: [String]) throws -> String {
        try columns(db, table: "runs", names)
    }

    /// The columns of `table` a reader selects, `NULL` for those the file lacks.
    static func columns(_ db: any SQLSession, table: String, _ names: [String]) throws -> String {
        // PostgreSQL's schema is migrated before anything reads it: every column is there.
        guard db.dialect == .sqlite else { return names.joined(separator: ", ") }
        let existing = Set(try db.query("PRAGMA table_info(\(table))").compactMap { $0[1].text })
        return names.map { existing.contains($0) ? $0 : "NULL" }.joined(separator: ", ")
    }

    static let summaryColumns = [
        "id", "workflow", "status", "started_at", "finished_at", "error", "workflow_hash", "parent_run_id",
        "parent_step_id",
    ]

    /// Whether `table` has the column `name` (a file written by an earlier version may lack it).
    static func hasColumn(_ db: any SQLSession, table: String, _ name: String) throws -> Bool {
        guard db.dialect == .sqlite else { return true }
        return try db.query("PRAGMA table_info(\(table))").contains { $0[1].text == name }
    }

    static func hasTable(_ db: any SQLSession, _ name: String) throws -> Bool {
        guard db.dialect == .sqlite else { return true }
        return try !db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(name)]).isEmpty
    }

    public func runs(limit: Int) async throws -> [RunSummary] {
        try await database.readSession { db in
            try db.query(
                "SELECT \(Self.runColumns(db, Self.summaryColumns)) FROM runs ORDER BY started_at DESC LIMIT ?",
                [.int(Int64(limit))]
            ).map(Self.summary)
        }
    }

    public func run(id: String) async throws -> RunDetail? {
        try await database.readSession { db -> RunDetail? in
            let columns = try Self.runColumns(db, Self.summaryColumns + ["trigger_event", "output", "parent_job_id"])
            guard let run = try db.query("SELECT \(columns) FROM runs WHERE id = ?", [.text(id)]).first else {
                return nil
            }
            // Late results by job id; the runs the run's steps started by the attempt that started them.
            var late: [String: LateResult] = [:]
            for row in try !Self.hasTable(db, "job_deadlines")
                ? []
                : db.query(
                    """
                    SELECT job_id, late_status, late_error, late_at FROM job_deadlines
                    WHERE run_id = ? AND late_status IS NOT NULL
                    """,
                    [.text(id)])
            {
                late[row[0].text ?? ""] = LateResult(
                    status: Self.stepStatus(row[1]), error: row[2].text, at: Self.double(row[3]) ?? 0)
            }
            var childByJob: [String: String] = [:]
            // (A file written before sub-workflows has no parent column, and no children.)
            let children = try
                (!columns.contains("parent_run_id")
                ? []
                : db.query(
                    "SELECT \(columns) FROM runs WHERE parent_run_id = ? ORDER BY started_at", [.text(id)])).map {
                    row -> RunSummary in
                    let child = Self.summary(row)
                    if let job = row[11].text { childByJob[job] = child.id }
                    return child
                }
            let stepColumns = try Self.columns(
                db, table: "steps",
                [
                    "step_id", "attempt", "status", "input", "output", "error", "exception", "scheduled_at",
                    "started_at", "finished_at", "log",
                ])
            let steps = try db.query(
                "SELECT \(stepColumns) FROM steps WHERE run_id = ? ORDER BY scheduled_at, attempt", [.text(id)]
            ).map { row in
                var attempt = StepAttempt(
                    stepID: row[0].text ?? "", attempt: Int(row[1].int ?? 0), status: Self.stepStatus(row[2]),
                    input: Self.json(row[3]), output: Self.json(row[4]), error: row[5].text,
                    exception: Self.json(row[6]), scheduledAt: Self.double(row[7]) ?? 0, startedAt: Self.stored(row[8]),
                    finishedAt: Self.stored(row[9]))
                attempt.log = row[10].text
                let jobID = JobRoute.jobID(runID: id, stepID: attempt.stepID, attempt: attempt.attempt)
                attempt.late = late[jobID]
                attempt.childRunID = childByJob[jobID]
                return attempt
            }
            // A file written before items were recorded has no table for them.
            let hasItems = try Self.hasTable(db, "step_items")
            let itemColumns =
                hasItems
                ? try Self.columns(
                    db, table: "step_items",
                    [
                        "step_id", "item_index", "attempt", "status", "input", "output", "error", "scheduled_at",
                        "started_at", "finished_at", "log",
                    ]) : ""
            let items =
                hasItems
                ? try db.query(
                    """
                    SELECT \(itemColumns) FROM step_items WHERE run_id = ? ORDER BY step_id, item_index, attempt
                    """, [.text(id)]
                ).map { row -> ItemAttempt in
                    var item = ItemAttempt(
                        stepID: row[0].text ?? "", index: Int(row[1].int ?? 0), attempt: Int(row[2].int ?? 1),
                        status: row[3].text.flatMap(ItemStatus.init(rawValue:)) ?? .failed, input: Self.json(row[4]),
                        output: Self.json(row[5]), error: row[6].text, scheduledAt: Self.double(row[7]) ?? 0,
                        startedAt: Self.stored(row[8]), finishedAt: Self.stored(row[9]))
                    item.log = row[10].text
                    let jobID = JobRoute.jobID(runID: id, stepID: item.stepID, item: item.index, attempt: item.attempt)
                    item.late = late[jobID]
                    item.childRunID = childByJob[jobID]
                    return item
                } : []
            var detail = RunDetail(
                summary: Self.summary(run), triggerEvent: Self.json(run[9]) ?? .null, steps: steps, items: items)
            detail.output = Self.json(run[10])
            detail.children = children
            detail.artifacts = try SQLRunStoreTransaction(db: db).artifacts(runID: id)
            return detail
        }
    }

    public func runCounts() async throws -> [RunStatus: Int] {
        try await database.readSession { db in
            var counts: [RunStatus: Int] = [:]
            for row in try db.query("SELECT status, COUNT(*) FROM runs GROUP BY status") {
                counts[Self.runStatus(row[0]), default: 0] += Int(row[1].int ?? 0)
            }
            return counts
        }
    }

    public func workflowVersion(hash: String) async throws -> StoredWorkflowVersion? {
        try await database.readSession { db in try SQLRunStoreTransaction(db: db).workflowVersion(hash: hash) }
    }

    public func artifacts(runID: String) async throws -> [RunArtifact] {
        try await database.readSession { db in try SQLRunStoreTransaction(db: db).artifacts(runID: runID) }
    }

    public func globalArtifacts() async throws -> [GlobalArtifactSummary] {
        try await database.readSession { db in try SQLRunStoreTransaction(db: db).globalArtifactSummaries() }
    }

    public func globalArtifact(name: String) async throws -> [JSONValue]? {
        try await database.readSession { db in
            let entries = try SQLRunStoreTransaction(db: db).globalArtifactEntries(name: name)
            return entries.isEmpty ? nil : entries
        }
    }

    // MARK: - Row decoding (never a trap: the file may have been written by another version or by hand)

    static func summary(_ row: [SQLValue]) -> RunSummary {
        RunSummary(
            id: row[0].text ?? "", workflow: row[1].text ?? "", status: runStatus(row[2]),
            startedAt: double(row[3]) ?? 0, finishedAt: double(row[4]), error: row[5].text, version: row[6].text,
            parentRunID: row[7].text, parentStepID: row[8].text)
    }

    /// An unknown status reads as failed: something is wrong with the run, and it is not running.
    static func runStatus(_ value: SQLValue) -> RunStatus {
        value.text.flatMap(RunStatus.init(rawValue:)) ?? .failed
    }

    static func stepStatus(_ value: SQLValue) -> StepStatus {
        value.text.flatMap(StepStatus.init(rawValue:)) ?? .failed
    }

    static func double(_ value: SQLValue) -> Double? {
        switch value {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    /// A time the store wrote (a REAL), or nil.
    static func stored(_ value: SQLValue) -> Double? {
        if case .double(let d) = value { return d }
        return nil
    }

    static func json(_ value: SQLValue) -> JSONValue? {
        value.text.flatMap { try? JSONParser.parse($0) }
    }
}
