import RelayCore
import RelayTransport

/// Job deadlines. A step's job has its deadline in its attempt's row (`steps.deadline_seconds`, `deadline_error`,
/// `deadline_due`, cleared by the result in the same UPDATE that records it): no row of its own to insert and
/// delete per step. A `for_each` item's is in its attempt's row of `step_items` the same way (written when the item
/// starts). The rest are rows of `job_deadlines`: a retry's waiting for its backoff (`due_at` null until it is
/// published), one given after its attempt was recorded or started, an older file's. A deadline that fails
/// its attempt always ends in `job_deadlines` with `expired_at` set, to record a result that comes late.
extension SQLRunStoreTransaction {
    func addDeadline(_ deadline: JobDeadline, startingAt start: Double?) throws {
        if let start {
            // Into the attempt's row if the attempt is added next in this transaction, else `job_deadlines`.
            stagedDeadlines.stage(deadline, due: start + deadline.seconds)
            return
        }
        try insertDeadline(deadline, due: nil)
    }

    /// A deadline taken for an attempt's row (`StagedDeadlines.take`) as the row's `deadline_seconds`,
    /// `deadline_error` and `deadline_due` (NULLs for none): in `steps` and in `step_items` alike.
    static func deadlineColumns(_ deadline: (deadline: JobDeadline, due: Double)?) -> [SQLValue] {
        guard let deadline else { return [.null, .null, .null] }
        return [.double(deadline.deadline.seconds), .text(deadline.deadline.error), .double(deadline.due)]
    }

    private func insertDeadline(_ deadline: JobDeadline, due: Double?, expiredAt: Double? = nil) throws {
        try db.query(
            """
            INSERT INTO job_deadlines (job_id, run_id, workflow, seconds, error, due_at, expired_at)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(deadline.jobID), .text(deadline.runID), .text(deadline.workflow), .double(deadline.seconds),
                .text(deadline.error), due.map { .double($0) } ?? .null, expiredAt.map { .double($0) } ?? .null,
            ])
    }

    /// Writes the deadlines given in this transaction that no attempt took (`addStep`) to `job_deadlines`: at the
    /// end of every decision, before it commits, and before anything else reads or clears deadlines (so that the
    /// transaction sees every deadline it gave).
    func writeStagedDeadlines() throws {
        // (A job whose attempt this transaction added with its deadline keeps that one.)
        for (deadline, due) in stagedDeadlines.takeAll() where stepRows.deadlineInRow(jobID: deadline.jobID) != true {
            try insertDeadline(deadline, due: due)
        }
    }

    func takeOverdueJobs(now: Double, limit: Int) throws -> [JobDeadline] {
        try writeStagedDeadlines()
        let kept = try db.query(
            """
            SELECT job_id, run_id, workflow, seconds, error, due_at FROM job_deadlines
            WHERE due_at <= ? AND expired_at IS NULL ORDER BY due_at LIMIT ?\(db.dialect.forUpdateSkipLocked)
            """, [.double(now), .int(Int64(limit))])
        // (A table's attempts with their run's workflow.)
        func inRows(of table: String) throws -> [[SQLValue]] {
            try db.query(
                """
                SELECT s.job_id, s.run_id, r.workflow, s.deadline_seconds, s.deadline_error, s.deadline_due
                FROM \(table) s JOIN runs r ON r.id = s.run_id
                WHERE s.deadline_due <= ? ORDER BY s.deadline_due LIMIT ?\(db.dialect.forUpdateSkipLocked)
                """, [.double(now), .int(Int64(limit))])
        }
        let inSteps = try inRows(of: "steps")
        let inItems = try inRows(of: "step_items")
        func deadline(_ row: [SQLValue]) -> JobDeadline {
            JobDeadline(
                jobID: row[0].text ?? "", runID: row[1].text ?? "", workflow: row[2].text ?? "",
                seconds: SQLRunStore.double(row[3]) ?? 0, error: row[4].text ?? "")
        }
        // The earliest of the three, `limit` in all; only those are marked handled.
        let taken =
            (kept.map { (row: $0, table: nil as String?) } + inSteps.map { (row: $0, table: "steps") }
            + inItems.map { (row: $0, table: "step_items") })
            .sorted { (SQLRunStore.double($0.row[5]) ?? 0) < (SQLRunStore.double($1.row[5]) ?? 0) }
            .prefix(max(0, limit))
        for (row, table) in taken {
            if let table {
                try db.query("UPDATE \(table) SET deadline_due = NULL WHERE job_id = ?", [row[0]])
                try insertDeadline(deadline(row), due: SQLRunStore.double(row[5]), expiredAt: now)
            } else {
                try db.query("UPDATE job_deadlines SET expired_at = ? WHERE job_id = ?", [.double(now), row[0]])
            }
        }
        return taken.map { deadline($0.row) }
    }

    func restartDeadlines(now: Double) throws {
        try writeStagedDeadlines()
        try db.query(
            """
            UPDATE job_deadlines SET due_at = \(db.dialect.greatest("due_at", "? + seconds"))
            WHERE due_at IS NOT NULL AND expired_at IS NULL
            """, [.double(now)])
        for table in ["steps", "step_items"] {
            try db.query(
                """
                UPDATE \(table) SET deadline_due = \(db.dialect.greatest("deadline_due", "? + deadline_seconds"))
                WHERE deadline_due IS NOT NULL
                """, [.double(now)])
        }
        // A sub-workflow's run stands for its calling step's attempt: its deadline is that step's.
        try db.query(
            """
            UPDATE runs SET deadline_at = \(db.dialect.greatest("deadline_at", "? + timeout_seconds"))
            WHERE deadline_at IS NOT NULL AND parent_run_id IS NOT NULL AND status = ?
            """, [.double(now), .text(RunStatus.running.rawValue)])
    }

    func recordLateResult(jobID: String, result: StepEvent) throws -> Bool {
        try writeStagedDeadlines()
        try db.query(
            """
            UPDATE job_deadlines SET late_status = ?, late_error = ?, late_at = ?
            WHERE job_id = ? AND expired_at IS NOT NULL AND late_status IS NULL
            """,
            [
                .text(StepStatus(result.status).rawValue), result.error.map { .text($0) } ?? .null,
                .double(RunTime.now()), .text(jobID),
            ])
        return db.changes == 1
    }

    func dropScheduledJobs(runID: String, error: String) throws -> [String] {
        try writeStagedDeadlines()
        let rows = try db.query(
            """
            SELECT job_id FROM scheduled_jobs
            WHERE job_id IN (SELECT job_id FROM steps WHERE run_id = ? AND status = ?)
                OR job_id IN (SELECT job_id FROM step_items WHERE run_id = ? AND status = ?)
            ORDER BY job_id
            """,
            [
                .text(runID), .text(StepStatus.running.rawValue), .text(runID),
                .text(ItemStatus.running.rawValue),
            ])
        if !rows.isEmpty { stepRows.forgetAll() }
        for row in rows {
            try db.query("DELETE FROM scheduled_jobs WHERE job_id = ?", [row[0]])
            try db.query("DELETE FROM job_deadlines WHERE job_id = ?", [row[0]])
            try db.query(
                "UPDATE steps SET status = ?, error = ?, finished_at = ? WHERE job_id = ? AND status = ?",
                [
                    .text(StepStatus.failed.rawValue), .text(error), .double(RunTime.now()), row[0],
                    .text(StepStatus.running.rawValue),
                ])
        }
        return rows.map { $0[0].text ?? "" }
    }
}
