import RelayCore
import RelayTransport

/// PostgreSQL's schema, by versioned migrations (table `relay_schema_migrations`: a row per version applied). Each
/// start of a store (`relay dispatcher --store postgres://…`) and `relay store migrate` applies the versions the
/// database lacks, in one transaction under an advisory lock, so that dispatchers starting together migrate once.
/// A database migrated by a later version of Relay (a version this one does not know) is refused, not altered.
///
/// The tables are SQLite's (`createTables`), with PostgreSQL's types: times are seconds since 1970 as DOUBLE
/// PRECISION, counters BIGINT, message bodies BYTEA. The change log is written by one trigger function, as SQLite's
/// triggers write it. `events.rowid` orders events of the same instant as SQLite's rowid does.
extension SQLRunStore {
    /// The migrations in order: version, what it does, its SQL.
    static let postgresMigrations: [(version: Int64, summary: String, sql: String)] = [
        (
            1,
            "the run store of Relay 0.x: runs, steps, items, deadlines, retries, artifacts, dead letters, events, "
                + "the change log, the shared outbox, trigger state", postgresSchemaVersion1
        ),
        (2, "a step's job deadline in its attempt's row", postgresSchemaVersion2),
        (3, "a for_each item's job deadline in its attempt's row", postgresSchemaVersion3),
    ]

    /// The latest schema version this Relay knows.
    public static var postgresSchemaVersion: Int64 { postgresMigrations.last?.version ?? 0 }

    /// Applies the migrations `database` lacks; returns the versions applied (none when it is up to date).
    @discardableResult
    public static func migrate(_ database: any SQLDatabase) throws -> [Int64] {
        guard database.dialect == .postgres else { return [] }
        return try database.syncWriteTransaction { db -> [Int64] in
            // One migrator at a time (the key is any constant of Relay's own); released at commit.
            try db.execute("SELECT pg_advisory_xact_lock(7266416600417)")
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS relay_schema_migrations (
                    version BIGINT PRIMARY KEY, summary TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)
                """)
            let current =
                try db.query("SELECT COALESCE(MAX(version), 0) FROM relay_schema_migrations").first?[0].int ?? 0
            guard current <= postgresSchemaVersion else {
                throw RelayError(
                    .configuration,
                    "\(database.location): the run store's schema is at version \(current), written by a later "
                        + "Relay; this one knows versions up to \(postgresSchemaVersion) and leaves it as it is")
            }
            var applied: [Int64] = []
            for migration in postgresMigrations where migration.version > current {
                try db.execute(migration.sql)
                try db.query(
                    "INSERT INTO relay_schema_migrations (version, summary, applied_at) VALUES (?, ?, ?)",
                    [.int(migration.version), .text(migration.summary), .double(RunTime.now())])
                applied.append(migration.version)
            }
            return applied
        }
    }

    /// The schema version of `database` (0: none applied).
    public static func schemaVersion(_ database: any SQLDatabase) async throws -> Int64 {
        try await database.readSession { db in
            let exists = try db.query("SELECT to_regclass('relay_schema_migrations') IS NOT NULL").first?[0].int ?? 0
            guard exists != 0 else { return 0 }
            return try db.query("SELECT COALESCE(MAX(version), 0) FROM relay_schema_migrations").first?[0].int ?? 0
        }
    }

    static let postgresSchemaVersion1 = """
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY, instance TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL, payload TEXT,
            rowid BIGINT GENERATED ALWAYS AS IDENTITY);
        CREATE INDEX events_instance ON events(instance, received_at);
        CREATE INDEX events_payload_age ON events(received_at) WHERE payload IS NOT NULL;
        CREATE TABLE store_settings (name TEXT PRIMARY KEY, value DOUBLE PRECISION NOT NULL);
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, event_id TEXT NOT NULL,
            trigger_event TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION,
            error TEXT, workflow_hash TEXT, parent_run_id TEXT, parent_step_id TEXT, parent_job_id TEXT, output TEXT,
            deadline_at DOUBLE PRECISION, timeout_seconds DOUBLE PRECISION);
        CREATE INDEX runs_started ON runs(started_at);
        CREATE INDEX runs_workflow ON runs(workflow, started_at);
        CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
        CREATE INDEX runs_deadline ON runs(deadline_at) WHERE deadline_at IS NOT NULL;
        CREATE TABLE workflow_versions (
            hash TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, source TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL);
        CREATE TABLE steps (
            job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt BIGINT NOT NULL,
            status TEXT NOT NULL, input TEXT, output TEXT, error TEXT, exception TEXT,
            scheduled_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION,
            log TEXT);
        CREATE INDEX steps_run ON steps(run_id, scheduled_at);
        CREATE TABLE step_items (
            job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, item_index BIGINT NOT NULL,
            attempt BIGINT NOT NULL, status TEXT NOT NULL, item TEXT NOT NULL, input TEXT, output TEXT, error TEXT,
            exception TEXT, scheduled_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION,
            finished_at DOUBLE PRECISION, log TEXT);
        CREATE INDEX step_items_step ON step_items(run_id, step_id, status, item_index);
        CREATE TABLE scheduled_jobs (
            job_id TEXT PRIMARY KEY, due_at DOUBLE PRECISION NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL,
            value BYTEA NOT NULL, headers TEXT);
        CREATE INDEX scheduled_jobs_due ON scheduled_jobs(due_at);
        CREATE TABLE job_deadlines (
            job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, workflow TEXT NOT NULL, seconds DOUBLE PRECISION NOT NULL,
            error TEXT NOT NULL, due_at DOUBLE PRECISION, expired_at DOUBLE PRECISION, late_status TEXT,
            late_error TEXT, late_at DOUBLE PRECISION);
        CREATE INDEX job_deadlines_due ON job_deadlines(due_at) WHERE expired_at IS NULL;
        CREATE INDEX job_deadlines_late ON job_deadlines(run_id) WHERE late_status IS NOT NULL;
        CREATE TABLE artifacts (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL,
            job_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, format TEXT NOT NULL, content TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL);
        CREATE INDEX artifacts_run ON artifacts(run_id, id);
        CREATE TABLE global_artifacts (
            name TEXT NOT NULL, position BIGINT NOT NULL, entry TEXT NOT NULL, run_id TEXT NOT NULL,
            step_id TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (name, position));
        CREATE TABLE dead_letters (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dlq_partition BIGINT NOT NULL,
            dlq_offset BIGINT NOT NULL, reason TEXT NOT NULL, source_topic TEXT NOT NULL, source_offset BIGINT NOT NULL,
            key TEXT NOT NULL, value BYTEA NOT NULL, headers TEXT NOT NULL, truncated BIGINT NOT NULL,
            received_at DOUBLE PRECISION NOT NULL, removed_at DOUBLE PRECISION, UNIQUE (dlq_partition, dlq_offset));
        CREATE TABLE run_changes (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL, run_id TEXT NOT NULL,
            kind TEXT NOT NULL, step_id TEXT, attempt BIGINT, item_index BIGINT, status TEXT NOT NULL);
        CREATE FUNCTION relay_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN RETURN NULL; END IF;
            IF TG_TABLE_NAME = 'runs' THEN
                INSERT INTO run_changes (at, run_id, kind, status)
                VALUES (extract(epoch FROM clock_timestamp()), NEW.id, 'run', NEW.status);
            ELSIF TG_TABLE_NAME = 'steps' THEN
                INSERT INTO run_changes (at, run_id, kind, step_id, attempt, status)
                VALUES (extract(epoch FROM clock_timestamp()), NEW.run_id, 'step', NEW.step_id, NEW.attempt,
                    NEW.status);
            ELSIF TG_OP = 'UPDATE' OR NEW.status <> 'pending' THEN
                INSERT INTO run_changes (at, run_id, kind, step_id, attempt, item_index, status)
                VALUES (extract(epoch FROM clock_timestamp()), NEW.run_id, 'item', NEW.step_id, NEW.attempt,
                    NEW.item_index, NEW.status);
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER run_changes_runs AFTER INSERT OR UPDATE OF status ON runs
            FOR EACH ROW EXECUTE FUNCTION relay_log_change();
        CREATE TRIGGER run_changes_steps AFTER INSERT OR UPDATE OF status ON steps
            FOR EACH ROW EXECUTE FUNCTION relay_log_change();
        CREATE TRIGGER run_changes_items AFTER INSERT OR UPDATE OF status ON step_items
            FOR EACH ROW EXECUTE FUNCTION relay_log_change();
        CREATE TABLE relay_outbox (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL,
            value BYTEA NOT NULL, headers TEXT NOT NULL, owner TEXT NOT NULL,
            leased_until DOUBLE PRECISION NOT NULL);
        CREATE INDEX relay_outbox_lease ON relay_outbox(leased_until);
        CREATE TABLE IF NOT EXISTS trigger_state (instance TEXT PRIMARY KEY, state TEXT NOT NULL);
        """

    /// Version 2: a step's job deadline in its attempt's row (`SQLRunStoreTransaction+Deadlines`).
    static let postgresSchemaVersion2 = """
        ALTER TABLE steps ADD COLUMN deadline_seconds DOUBLE PRECISION, ADD COLUMN deadline_error TEXT,
            ADD COLUMN deadline_due DOUBLE PRECISION;
        CREATE INDEX steps_deadline_due ON steps(deadline_due) WHERE deadline_due IS NOT NULL;
        """

    /// Version 3: a `for_each` item's job deadline in its attempt's row, as a step's.
    static let postgresSchemaVersion3 = """
        ALTER TABLE step_items ADD COLUMN deadline_seconds DOUBLE PRECISION, ADD COLUMN deadline_error TEXT,
            ADD COLUMN deadline_due DOUBLE PRECISION;
        CREATE INDEX step_items_deadline_due ON step_items(deadline_due) WHERE deadline_due IS NOT NULL;
        """
}
