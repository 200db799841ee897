import RelayCore

/// Job deadlines (table `job_deadlines`): a row per job sent whose result has not been recorded, with `due_at`
/// (null while the job waits for its backoff); a row whose deadline failed the attempt stays, `expired_at` set, to
/// record a result that comes late.
extension SQLRunStoreTransaction {
    func addDeadline(_ deadline: JobDeadline, startingAt start: Double?) throws {
        try db.query(
            """
            INSERT INTO job_deadlines (job_id, run_id, workflow, seconds, error, due_at)
            VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(deadline.jobID), .text(deadline.runID), .text(deadline.workflow), .double(deadline.seconds),
                .text(deadline.error), start.map { .double($0 + deadline.seconds) } ?? .null,
            ])
    }

    func takeOverdueJobs(now: Double, limit: Int) throws -> [JobDeadline] {
        let rows = try db.query(
            """
            SELECT job_id, run_id, workflow, seconds, error FROM job_deadlines
            WHERE due_at <= ? AND expired_at IS NULL ORDER BY due_at LIMIT ?\(db.dialect.forUpdateSkipLocked)
            """, [.double(now), .int(Int64(limit))])
        for row in rows {
            try db.query("UPDATE job_deadlines SET expired_at = ? WHERE job_id = ?", [.double(now), row[0]])
        }
        return rows.map {
            JobDeadline(
                jobID: $0[0].text ?? "", runID: $0[1].text ?? "", workflow: $0[2].text ?? "",
                seconds: SQLRunStore.double($0[3]) ?? 0, error: $0[4].text ?? "")
        }
    }

    func restartDeadlines(now: Double) throws {
        try db.query(
            """
            UPDATE job_deadlines SET due_at = \(db.dialect.greatest("due_at", "? + seconds"))
            WHERE due_at IS NOT NULL AND expired_at IS NULL
            """, [.double(now)])
        // A sub-workflow's run stands for its calling step's attempt: its deadline is that step's.
        try db.query(
            """
            UPDATE runs SET deadline_at = \(db.dialect.greatest("deadline_at", "? + timeout_seconds"))
            WHERE deadline_at IS NOT NULL AND parent_run_id IS NOT NULL AND status = ?
            """, [.double(now), .text(RunStatus.running.rawValue)])
    }

    func recordLateResult(jobID: String, result: StepEvent) throws -> Bool {
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
