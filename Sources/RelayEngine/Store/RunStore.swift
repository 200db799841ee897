import Foundation
import RelayCore
import RelayTransport

/// Every run's state and history, in the same SQLite file as the embedded bus, so that recording a step and
/// publishing what follows commit together. All functions run inside a caller's transaction.
public enum RunStore {
    public static func createTables(_ database: SQLiteDatabase) throws {
        try database.syncTransaction { db in
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS events (
                    event_id TEXT PRIMARY KEY, instance TEXT NOT NULL, received_at REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS runs (
                    id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, event_id TEXT NOT NULL,
                    trigger_event TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, error TEXT);
                CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);
                CREATE TABLE IF NOT EXISTS steps (
                    job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
                    status TEXT NOT NULL, input TEXT, output TEXT, error TEXT, exception TEXT,
                    scheduled_at REAL NOT NULL, started_at REAL, finished_at REAL);
                CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id, scheduled_at);
                CREATE TABLE IF NOT EXISTS scheduled_jobs (
                    job_id TEXT PRIMARY KEY, due_at REAL NOT NULL, topic TEXT NOT NULL, key TEXT NOT NULL,
                    value BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS trigger_state (instance TEXT PRIMARY KEY, state TEXT NOT NULL);
                """)
        }
    }

    // MARK: - Writes (inside a transaction)

    /// Records an event id; false when it was seen before.
    static func recordEvent(_ id: String, instance: String, in db: SQLiteConnection) throws -> Bool {
        try db.query(
            "INSERT OR IGNORE INTO events (event_id, instance, received_at) VALUES (?, ?, ?)",
            [.text(id), .text(instance), .double(now())])
        return db.changes == 1
    }

    static func createRun(id: String, workflow: String, eventID: String, event: JSONValue, in db: SQLiteConnection)
        throws -> Bool
    {
        try db.query(
            "INSERT OR IGNORE INTO runs (id, workflow, status, event_id, trigger_event, started_at) VALUES "
                + "(?, ?, 'running', ?, ?, ?)",
            [.text(id), .text(workflow), .text(eventID), .text(JSONWriter.compact.string(event)), .double(now())])
        return db.changes == 1
    }

    static func addStep(
        jobID: String, runID: String, stepID: String, attempt: Int, status: String, input: JSONValue?,
        error: String? = nil, in db: SQLiteConnection
    ) throws {
        let finished: SQLiteConnection.Value = status == "skipped" || status == "failed" ? .double(now()) : .null
        try db.query(
            """
            INSERT OR IGNORE INTO steps
                (job_id, run_id, step_id, attempt, status, input, error, scheduled_at, finished_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(jobID), .text(runID), .text(stepID), .int(Int64(attempt)), .text(status),
                input.map { .text(JSONWriter.compact.string($0)) } ?? .null, error.map { .text($0) } ?? .null,
                .double(now()), finished,
            ])
    }

    struct StepRow: Sendable {
        var jobID: String
        var runID: String
        var stepID: String
        var attempt: Int
        var status: String
    }

    static func step(jobID: String, in db: SQLiteConnection) throws -> StepRow? {
        guard
            let row = try db.query(
                "SELECT job_id, run_id, step_id, attempt, status FROM steps WHERE job_id = ?", [.text(jobID)]
            ).first
        else { return nil }
        return StepRow(
            jobID: row[0].text ?? "", runID: row[1].text ?? "", stepID: row[2].text ?? "",
            attempt: Int(row[3].int ?? 1), status: row[4].text ?? "")
    }

    static func finishStep(jobID: String, event: StepEvent, startedAt: Double?, in db: SQLiteConnection) throws {
        try db.query(
            """
            UPDATE steps SET status = ?, output = ?, error = ?, exception = ?,
                started_at = COALESCE(?, started_at), finished_at = ?
            WHERE job_id = ?
            """,
            [
                .text(event.status == .ok ? "succeeded" : "failed"),
                event.output.map { .text(JSONWriter.compact.string($0)) } ?? .null,
                event.error.map { .text($0) } ?? .null,
                event.exception.map { .text(JSONWriter.compact.string($0.json)) } ?? .null,
                startedAt.map { .double($0) } ?? .null, .double(now()), .text(jobID),
            ])
    }

    static func markStarted(jobID: String, in db: SQLiteConnection) throws {
        try db.query(
            "UPDATE steps SET started_at = COALESCE(started_at, ?) WHERE job_id = ?", [.double(now()), .text(jobID)])
    }

    static func finishRun(id: String, status: String, error: String?, in db: SQLiteConnection) throws {
        try db.query(
            "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = 'running'",
            [.text(status), .double(now()), error.map { .text($0) } ?? .null, .text(id)])
    }

    static func schedule(_ message: BusMessage, jobID: String, dueAt: Double, in db: SQLiteConnection) throws {
        try db.query(
            "INSERT OR IGNORE INTO scheduled_jobs (job_id, due_at, topic, key, value) VALUES (?, ?, ?, ?, ?)",
            [.text(jobID), .double(dueAt), .text(message.topic), .text(message.key), .blob(message.value)])
    }

    /// Removes and returns the scheduled jobs that are due.
    static func takeDueJobs(in db: SQLiteConnection) throws -> [BusMessage] {
        let rows = try db.query(
            "SELECT job_id, topic, key, value FROM scheduled_jobs WHERE due_at <= ? ORDER BY due_at LIMIT 500",
            [.double(now())])
        for row in rows { try db.query("DELETE FROM scheduled_jobs WHERE job_id = ?", [row[0]]) }
        return rows.map { BusMessage(topic: $0[1].text ?? "", key: $0[2].text ?? "", value: $0[3].blob ?? []) }
    }

    // MARK: - Reads

    /// The run's trigger event and the latest attempt of each step, as templates see them.
    static func scope(runID: String, in db: SQLiteConnection) throws -> Template.Scope {
        let event = try db.query("SELECT trigger_event FROM runs WHERE id = ?", [.text(runID)]).first?.first?.text
        var steps = JSONObject()
        for row in try db.query(
            "SELECT step_id, status, output, error FROM steps WHERE run_id = ? ORDER BY attempt", [.text(runID)])
        {
            var entry: JSONObject = ["status": .string(row[1].text ?? "")]
            entry["output"] = row[2].text.flatMap { try? JSONParser.parse($0) } ?? .null
            entry["error"] = row[3].text.map(JSONValue.string) ?? .null
            steps[row[0].text ?? ""] = .object(entry)
        }
        return Template.Scope(trigger: event.flatMap { try? JSONParser.parse($0) } ?? [:], steps: steps)
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}
