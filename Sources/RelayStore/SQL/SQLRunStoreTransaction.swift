import RelayCore
import RelayTransport

/// The dispatcher's reads and writes inside one transaction of a `SQLRunStore`.
struct SQLRunStoreTransaction: RunStoreTransaction {
    let db: any SQLSession
    /// The trigger events of runs in flight, parsed, as this transaction sees them (nil: read each time).
    let triggers: TriggerEventCache.Staging?
    /// The attempts of the runs this transaction has read, kept true by its writes.
    let stepRows: RunStepRows
    /// The runs this transaction has read, kept true by its writes.
    let runRecords: RunRecords
    /// The `for_each` items of the runs this transaction has read, kept true by its writes (nil: none kept, the
    /// statements answer; only where runs in flight are kept across transactions).
    let itemRows: RunItemRows?
    /// Job deadlines not yet written: a step's goes into its attempt's row.
    let stagedDeadlines = StagedDeadlines()
    /// The connection's cache of runs in flight, as this transaction uses it (nil: none).
    let runStates: RunStateCache.View?

    /// `runStates`: the connection's cache of runs in flight, for a decision on SQLite (`RunStateCache`).
    init(db: any SQLSession, triggers: TriggerEventCache.Staging? = nil, runStates: RunStateCache.View? = nil) {
        self.db = db
        self.triggers = triggers
        self.runStates = runStates
        stepRows = RunStepRows(shared: runStates)
        runRecords = RunRecords(shared: runStates)
        itemRows = runStates.map { RunItemRows(shared: $0) }
    }

    func recordEvent(_ event: TriggerEvent, payload: String?) throws -> Bool {
        // With its payload (to replay it), unless the event retention is 0 (`SQLRunStore+Events`).
        try db.query(
            """
            INSERT INTO events (event_id, instance, received_at, payload) VALUES (?, ?, ?, CASE WHEN EXISTS (
                SELECT 1 FROM store_settings WHERE name = ? AND value <= 0) THEN NULL ELSE ? END)
            ON CONFLICT DO NOTHING
            """,
            [
                .text(event.id), .text(event.instance), .double(RunTime.now()),
                .text(SQLRunStore.eventRetentionSetting), .text(payload ?? JSONWriter.compact.string(event.json)),
            ])
        return db.changes == 1
    }

    func recordWorkflowVersion(_ version: StoredWorkflowVersion) throws {
        // Known to be in the file (committed by an earlier decision on this connection): one statement per run less.
        if runStates?.hasWorkflowVersion(version.hash) == true { return }
        try db.query(
            """
            INSERT INTO workflow_versions (hash, name, file, source, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            [
                .text(version.hash), .text(version.name), .text(version.file), .text(version.source),
                .double(RunTime.now()),
            ])
        runStates?.recordedWorkflowVersion(version.hash)
    }

    func workflowVersion(hash: String) throws -> StoredWorkflowVersion? {
        try db.query("SELECT hash, name, file, source FROM workflow_versions WHERE hash = ?", [.text(hash)]).first.map {
            StoredWorkflowVersion(
                hash: $0[0].text ?? "", name: $0[1].text ?? "", file: $0[2].text ?? "", source: $0[3].text ?? "")
        }
    }

    func createRun(_ run: NewRun) throws -> Bool {
        try createRun(run, trigger: JSONWriter.compact.string(run.event.output))
    }

    /// `createRun`, with the trigger event's output already written as JSON text (`trigger`).
    func createRun(_ run: NewRun, trigger: String) throws -> Bool {
        let now = run.startedAt ?? RunTime.now()
        try db.query(
            """
            INSERT INTO runs (id, workflow, status, event_id, trigger_event, started_at, workflow_hash,
                parent_run_id, parent_step_id, parent_job_id, deadline_at, timeout_seconds)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(run.id), .text(run.workflow), .text(RunStatus.running.rawValue), .text(run.event.id),
                .text(trigger), .double(now),
                run.version.map { .text($0) } ?? .null, run.parent.map { .text($0.runID) } ?? .null,
                run.parent.map { .text($0.stepID) } ?? .null, run.parent.map { .text($0.jobID) } ?? .null,
                run.timeout.map { .double(now + $0) } ?? .null, run.timeout.map { .double($0) } ?? .null,
            ])
        guard db.changes == 1 else { return false }
        // The run's steps render over its event from now on: kept as it is, not read back and parsed again. A new
        // run has no attempts yet.
        triggers?.keep(run.event.output, of: run.id, bytes: trigger.utf8.count)
        stepRows.rows(of: run.id) { [] }
        itemRows?.created(run.id)
        runRecords.created(
            RunRecord(
                id: run.id, workflow: run.workflow, version: run.version, status: .running, parent: run.parent,
                timeout: run.timeout, startedAt: now))
        return true
    }

    private static let runColumns =
        "id, workflow, workflow_hash, status, parent_run_id, parent_step_id, parent_job_id, timeout_seconds, "
        + "started_at"

    private static func runRecord(_ row: [SQLValue]) -> RunRecord {
        var parent: RunParent?
        if let runID = row[4].text, let stepID = row[5].text, let jobID = row[6].text {
            parent = RunParent(runID: runID, stepID: stepID, jobID: jobID)
        }
        return RunRecord(
            id: row[0].text ?? "", workflow: row[1].text ?? "", version: row[2].text,
            status: SQLRunStore.runStatus(row[3]), parent: parent, timeout: SQLRunStore.double(row[7]),
            startedAt: SQLRunStore.double(row[8]))
    }

    func runRecord(id: String) throws -> RunRecord? {
        // Locked until the transaction ends (PostgreSQL): a decision about a run begins by reading it, so two
        // dispatchers sharing the store never decide about one run at once.
        try runRecords.record(id) {
            try db.query("SELECT \(Self.runColumns) FROM runs WHERE id = ?\(db.dialect.forUpdate)", [.text(id)])
                .first.map(Self.runRecord)
        }
    }

    func runningChildren(of runID: String) throws -> [RunRecord] {
        try db.query(
            "SELECT \(Self.runColumns) FROM runs WHERE parent_run_id = ? AND status = ? ORDER BY started_at",
            [.text(runID), .text(RunStatus.running.rawValue)]
        ).map(Self.runRecord)
    }

    func overdueRuns(now: Double, limit: Int) throws -> [RunRecord] {
        try db.query(
            """
            SELECT \(Self.runColumns) FROM runs WHERE deadline_at IS NOT NULL AND deadline_at <= ? AND status = ?
            ORDER BY deadline_at LIMIT ?\(db.dialect.forUpdateSkipLocked)
            """, [.double(now), .text(RunStatus.running.rawValue), .int(Int64(limit))]
        ).map(Self.runRecord)
    }

    func reopenRun(id: String) throws -> Bool {
        try db.query(
            """
            UPDATE runs SET status = ?, finished_at = NULL, error = NULL, output = NULL,
                deadline_at = ? + timeout_seconds
            WHERE id = ? AND status != ?
            """,
            [
                .text(RunStatus.running.rawValue), .double(RunTime.now()), .text(id), .text(RunStatus.running.rawValue),
            ])
        guard db.changes == 1 else { return false }
        runRecords.setStatus(.running, of: id)
        return true
    }

    func addStep(_ step: StepAttemptRecord) throws {
        try addStep(step, input: step.input.map { JSONWriter.compact.string($0) })
    }

    /// `addStep`, with the attempt's input already written as JSON text (`input`).
    func addStep(_ step: StepAttemptRecord, input: String?) throws {
        let (added, deadlineInRow) = try insertStep(step, input: input)
        if added { stepRows.added(RunStepRows.Row(step, deadlineInRow: deadlineInRow), to: step.runID) }
    }

    /// `addStep`'s statement alone (the rows kept are the caller's to change): whether the attempt was added (not
    /// there before), and whether the deadline just given to its job went into its row.
    func insertStep(_ step: StepAttemptRecord, input: String?) throws -> (added: Bool, deadlineInRow: Bool) {
        let now = RunTime.now()
        // The job's deadline, when the dispatcher has just given it one (`addDeadline`), goes into the row.
        let deadline = stagedDeadlines.take(step.jobID)
        try db.query(
            """
            INSERT INTO steps (job_id, run_id, step_id, attempt, status, input, error, scheduled_at,
                finished_at, deadline_seconds, deadline_error, deadline_due)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(step.jobID), .text(step.runID), .text(step.stepID), .int(Int64(step.attempt)),
                .text(step.status.rawValue), input.map { .text($0) } ?? .null,
                step.error.map { .text($0) } ?? .null, .double(now), step.status.isFinished ? .double(now) : .null,
            ] + Self.deadlineColumns(deadline))
        return (db.changes == 1, deadline != nil)
    }

    func step(jobID: String) throws -> StepAttemptRecord? {
        guard
            let row = try db.query(
                "SELECT job_id, run_id, step_id, attempt, status FROM steps WHERE job_id = ?", [.text(jobID)]
            ).first
        else { return nil }
        return StepAttemptRecord(
            jobID: row[0].text ?? "", runID: row[1].text ?? "", stepID: row[2].text ?? "",
            attempt: Int(row[3].int ?? 1), status: SQLRunStore.stepStatus(row[4]))
    }

    func step(jobID: String, runID: String) throws -> StepAttemptRecord? {
        // (A job of another run than the one named is looked up by its id alone, as `step(jobID:)` does.)
        guard let row = try runRows(runID).last(where: { $0.jobID == jobID }) else { return try step(jobID: jobID) }
        return row.record(runID: runID)
    }

    func latestSteps(runID: String) throws -> [String: StepAttemptRecord] {
        RunStepRows.latest(try runRows(runID), runID: runID)
    }

    /// The run's attempts, lowest attempt first (in the order they were added among equal attempts): read once per
    /// transaction (`RunStepRows`).
    func runRows(_ runID: String) throws -> [RunStepRows.Row] {
        let rows = try stepRows.rows(of: runID) {
            try db.query(
                """
                SELECT job_id, step_id, attempt, status, output, error,
                    CASE WHEN deadline_seconds IS NULL THEN 0 ELSE 1 END
                FROM steps WHERE run_id = ? ORDER BY attempt
                """,
                [.text(runID)]
            ).map { row in
                RunStepRows.Row(
                    jobID: row[0].text ?? "", stepID: row[1].text ?? "", attempt: Int(row[2].int ?? 1),
                    status: SQLRunStore.stepStatus(row[3]), output: row[4].text, error: row[5].text,
                    deadlineInRow: row[6].int == 1)
            }
        }
        // Attempts this transaction added come last: in order already, but for a retry added before another
        // step's first attempt was read back.
        return RunStepRows.ordered(rows)
    }

    func runStatus(id: String) throws -> RunStatus? {
        guard let row = try db.query("SELECT status FROM runs WHERE id = ?", [.text(id)]).first else { return nil }
        return RunStatus(rawValue: row[0].text ?? "") ?? .failed
    }

    func reopenStep(jobID: String) throws {
        try db.query(
            """
            UPDATE steps SET status = ?, output = NULL, error = NULL, exception = NULL, log = NULL, finished_at = NULL
            WHERE job_id = ?
            """,
            [.text(StepStatus.running.rawValue), .text(jobID)])
        stepRows.forgetAll()
    }

    func finishStep(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws {
        try finishStep(
            jobID: jobID, result: result, output: result.output.map { JSONWriter.compact.string($0) },
            startedAt: startedAt, finishedAt: finishedAt)
    }

    /// `finishStep`, with the result's output already written as JSON text (`output`).
    func finishStep(jobID: String, result: StepEvent, output: String?, startedAt: Double?, finishedAt: Double?) throws {
        try writeStagedDeadlines()
        let updated = try updateStep(
            jobID: jobID, result: result, output: output, startedAt: startedAt, finishedAt: finishedAt)
        if updated {
            if !stepRows.holds(jobID: jobID), stepRows.sharesAcrossTransactions {
                // A run this transaction has not read: the connection's cache forgets it.
                let runID = try db.query("SELECT run_id FROM steps WHERE job_id = ?", [.text(jobID)]).first?[0].text
                if let runID { stepRows.changed(runID) }
            }
            stepRows.finished(
                jobID: jobID, status: StepStatus(result.status), output: output, value: result.output,
                error: result.error)
        }
        try clearDeadline(jobID: jobID, inRow: stepRows.deadlineInRow(jobID: jobID) == true)
    }

    /// `finishStep`'s update alone (the rows kept are the caller's to change): whether the attempt was there.
    func updateStep(jobID: String, result: StepEvent, output: String?, startedAt: Double?, finishedAt: Double?) throws
        -> Bool
    {
        try db.query(
            """
            UPDATE steps SET status = ?, output = ?, error = ?, exception = ?, log = ?,
                started_at = COALESCE(?, started_at, scheduled_at), finished_at = ?, deadline_due = NULL
            WHERE job_id = ?
            """,
            [
                .text(StepStatus(result.status).rawValue), output.map { .text($0) } ?? .null,
                result.error.map { .text($0) } ?? .null,
                result.exception.map { .text(JSONWriter.compact.string($0.json)) } ?? .null,
                StepLog.kept(result.log).map { .text($0) } ?? .null,
                startedAt.map { .double($0) } ?? .null, .double(finishedAt ?? RunTime.now()), .text(jobID),
            ])
        return db.changes == 1
    }

    /// A result in time clears the job's deadline (in its row, by `updateStep`, when `inRow`; else in
    /// `job_deadlines`: a retry's, an older file's); one the deadline handled stays, to record a late result.
    func clearDeadline(jobID: String, inRow: Bool) throws {
        if !inRow {
            try db.query("DELETE FROM job_deadlines WHERE job_id = ? AND expired_at IS NULL", [.text(jobID)])
        }
    }

    func finishRun(id: String, status: RunStatus, error: String?, output: JSONValue?) throws -> Bool {
        try finishRun(id: id, status: status, error: error, storedOutput: output.map { JSONWriter.compact.string($0) })
    }

    /// `finishRun`, with the run's output already written as JSON text (`storedOutput`).
    func finishRun(id: String, status: RunStatus, error: String?, storedOutput: String?) throws -> Bool {
        guard try updateRun(id: id, status: status, error: error, storedOutput: storedOutput) else { return false }
        runRecords.setStatus(status, of: id)
        return true
    }

    /// `finishRun`'s update alone (the record kept is the caller's to change): whether the run was running.
    func updateRun(id: String, status: RunStatus, error: String?, storedOutput: String?) throws -> Bool {
        triggers?.forget(id)
        try db.query(
            """
            UPDATE runs SET status = ?, finished_at = ?, error = ?, output = ?, deadline_at = NULL
            WHERE id = ? AND status = ?
            """,
            [
                .text(status.rawValue), .double(RunTime.now()), error.map { .text($0) } ?? .null,
                storedOutput.map { .text($0) } ?? .null, .text(id),
                .text(RunStatus.running.rawValue),
            ])
        return db.changes == 1
    }

    func schedule(_ message: BusMessage, jobID: String, dueAt: Double) throws {
        let headers = JSONObject(uniqueKeysWithValues: message.headers.map { ($0.key, JSONValue.string($0.value)) })
        try db.query(
            """
            INSERT INTO scheduled_jobs (job_id, due_at, topic, key, value, headers) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            [
                .text(jobID), .double(dueAt), .text(message.topic), .text(message.key), .blob(message.value),
                headers.isEmpty ? .null : .text(JSONWriter.compact.string(.object(headers))),
            ])
    }

    func takeDueJobs(now: Double, limit: Int) throws -> [BusMessage] {
        try writeStagedDeadlines()
        let rows = try db.query(
            "SELECT job_id, topic, key, value, headers FROM scheduled_jobs WHERE due_at <= ? ORDER BY due_at LIMIT ?"
                + db.dialect.forUpdateSkipLocked,
            [.double(now), .int(Int64(limit))])
        for row in rows {
            try db.query("DELETE FROM scheduled_jobs WHERE job_id = ?", [row[0]])
            try db.query(
                "UPDATE job_deadlines SET due_at = ? + seconds WHERE job_id = ? AND due_at IS NULL",
                [.double(now), row[0]])
        }
        return rows.map { row in
            var headers: [String: String] = [:]
            for (name, value) in SQLRunStore.json(row[4])?.objectValue ?? [:] {
                if let text = value.stringValue { headers[name] = text }
            }
            return BusMessage(
                topic: row[1].text ?? "", key: row[2].text ?? "", value: row[3].blob ?? [], headers: headers)
        }
    }

    func scope(runID: String) throws -> Template.Scope {
        var trigger = triggers?[runID]
        if trigger == nil {
            let text = try db.query("SELECT trigger_event FROM runs WHERE id = ?", [.text(runID)]).first?.first?.text
            if let text, let parsed = try? JSONParser.parse(text) {
                trigger = parsed
                triggers?.keep(parsed, of: runID, bytes: text.utf8.count)
            }
        }
        // (Each output parsed once, and kept parsed with the run's attempts.)
        _ = try runRows(runID)
        stepRows.parseOutputs(of: runID)
        return Template.Scope(trigger: trigger ?? [:], steps: RunStepRows.scopeSteps(try runRows(runID)))
    }

    func latestOutput(runID: String, stepID: String) throws -> JSONValue? {
        RunStepRows.latestOutput(try runRows(runID), stepID: stepID)
    }
}

// MARK: - Items of for_each steps

extension SQLRunStoreTransaction {
    private static let itemColumns = "job_id, run_id, step_id, item_index, attempt, status, item, input, output, error"

    private static func itemRecord(_ row: [SQLValue]) -> ItemAttemptRecord {
        ItemAttemptRecord(
            jobID: row[0].text ?? "", runID: row[1].text ?? "", stepID: row[2].text ?? "",
            index: Int(row[3].int ?? 0), attempt: Int(row[4].int ?? 1),
            status: row[5].text.flatMap(ItemStatus.init(rawValue:)) ?? .failed,
            item: SQLRunStore.json(row[6]) ?? .null, input: SQLRunStore.json(row[7]),
            output: SQLRunStore.json(row[8]), error: row[9].text)
    }

    /// The run's items as this transaction keeps them, read whole the first time (nil: none kept, where runs in flight
    /// are not kept across transactions, or for a run not in flight or with too many items: the statements answer).
    @discardableResult
    func keptItems(of runID: String) throws -> RunItems? {
        try itemRows?.items(
            of: runID, inFlight: { try runRecord(id: runID)?.status == .running },
            read: {
                try db.query(
                    """
                    SELECT \(Self.itemColumns), CASE WHEN deadline_seconds IS NULL THEN 0 ELSE 1 END FROM step_items
                    WHERE run_id = ? ORDER BY step_id, item_index, attempt
                    """, [.text(runID)]
                ).map { row in
                    let texts = [6, 7, 8, 9].reduce(0) { $0 + (row[$1].text?.utf8.count ?? 0) }
                    return RunItems.Row(
                        jobID: row[0].text ?? "", stepID: row[2].text ?? "", index: Int(row[3].int ?? 0),
                        attempt: Int(row[4].int ?? 1),
                        status: row[5].text.flatMap(ItemStatus.init(rawValue:)) ?? .failed,
                        item: SQLRunStore.json(row[6]) ?? .null, input: SQLRunStore.json(row[7]), output: row[8].text,
                        error: row[9].text, deadlineInRow: row[10].int == 1,
                        bytes: texts + (row[0].text?.utf8.count ?? 0))
                }
            })
    }

    /// Inserts the attempt unless one with its job id exists; returns whether it did.
    @discardableResult
    func insertItem(_ item: ItemAttemptRecord, now: Double) throws -> Bool {
        try keptItems(of: item.runID)
        // A running one takes the deadline just given for it (`addDeadline`), as `startItem` does.
        let deadline = item.status == .running ? stagedDeadlines.take(item.jobID) : nil
        let (itemText, inputText) = (JSONWriter.compact.string(item.item), item.input.map(JSONWriter.compact.string))
        try db.query(
            """
            INSERT INTO step_items (job_id, run_id, step_id, item_index, attempt, status, item, input,
                scheduled_at, deadline_seconds, deadline_error, deadline_due)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(item.jobID), .text(item.runID), .text(item.stepID), .int(Int64(item.index)),
                .int(Int64(item.attempt)), .text(item.status.rawValue), .text(itemText),
                inputText.map { .text($0) } ?? .null, .double(now),
            ] + Self.deadlineColumns(deadline))
        // (When the attempt existed, its deadline was taken and is dropped with it: its job does not go out.)
        let inserted = db.changes == 1
        let row = RunItems.Row(
            item, deadlineInRow: deadline != nil,
            bytes: item.jobID.utf8.count + itemText.utf8.count + (inputText?.utf8.count ?? 0))
        itemRows?.follow(item.runID, changed: db.changes) { $0.insert(row) ? 1 : 0 }
        return inserted
    }

    func addItems(runID: String, stepID: String, items: [JSONValue], started: [JSONValue]) throws -> Set<Int> {
        let now = RunTime.now()
        var written: Set<Int> = []
        for (index, item) in items.enumerated() {
            // (Optional.none: a `nil` literal would be JSON's null.)
            let input: JSONValue? = index < started.count ? started[index] : Optional.none
            let inserted = try insertItem(
                ItemAttemptRecord(
                    jobID: JobRoute.jobID(runID: runID, stepID: stepID, item: index, attempt: 1), runID: runID,
                    stepID: stepID, index: index, attempt: 1, status: index < started.count ? .running : .pending,
                    item: item, input: input),
                now: now)
            if inserted, index < started.count { written.insert(index) }
        }
        return written
    }

    func itemsToStart(runID: String, stepID: String, concurrency: Int) throws -> ItemSlots {
        if let items = try keptItems(of: runID) { return items.slots(stepID: stepID, concurrency: concurrency) }
        // While items are pending: the free slots' worth of them and one more (which says whether more are
        // pending), each row with the count of those running (at most `concurrency` index entries; the pending ones
        // are never counted). None pending: whether one runs is enough, so that a step running every item at once
        // does not count them all at each item's result. (Plain statements: a CTE and a join cost three times as
        // much in SQLite.)
        let step: [SQLValue] = [.text(runID), .text(stepID)]
        let (pending, running) = (
            SQLValue.text(ItemStatus.pending.rawValue), SQLValue.text(ItemStatus.running.rawValue)
        )
        let counted = "SELECT COUNT(*) FROM step_items WHERE run_id = ? AND step_id = ? AND status = ?"
        let rows = try db.query(
            """
            SELECT \(Self.itemColumns), (\(counted)) FROM step_items WHERE run_id = ? AND step_id = ? AND status = ?
            ORDER BY item_index LIMIT \(db.dialect.greatest("0", "? - (\(counted))")) + 1
            """,
            step + [running] + step + [pending, .int(Int64(concurrency))] + step + [running])
        guard let first = rows.first else {
            let anyRunning = try db.query(
                "SELECT 1 FROM step_items WHERE run_id = ? AND step_id = ? AND status = ? LIMIT 1", step + [running])
            return ItemSlots(next: [], morePending: false, anyRunning: !anyRunning.isEmpty)
        }
        let count = Int(first[10].int ?? 0)
        let free = max(0, concurrency - count)
        return ItemSlots(
            next: rows.prefix(free).map(Self.itemRecord), morePending: rows.count > free, anyRunning: count > 0)
    }

    func startItem(jobID: String, input: JSONValue) throws {
        try startingItem(jobID: jobID, input: input)
    }

    /// Starts the item attempt if it is pending; whether it was.
    @discardableResult
    func startingItem(jobID: String, input: JSONValue) throws -> Bool {
        let runID = RunItems.runID(ofJob: jobID)
        try keptItems(of: runID)
        // The job's deadline, when the dispatcher has just given it one (`addDeadline`), goes into the row, as a
        // step's does.
        let deadline = stagedDeadlines.take(jobID)
        let inputText = JSONWriter.compact.string(input)
        try db.query(
            """
            UPDATE step_items SET status = ?, input = ?, scheduled_at = ?, deadline_seconds = ?, deadline_error = ?,
                deadline_due = ?
            WHERE job_id = ? AND status = ?
            """,
            [.text(ItemStatus.running.rawValue), .text(inputText), .double(RunTime.now())]
                + Self.deadlineColumns(deadline) + [.text(jobID), .text(ItemStatus.pending.rawValue)])
        let started = db.changes == 1
        itemRows?.follow(runID, changed: db.changes) {
            $0.start(jobID: jobID, input: input, deadlineInRow: deadline != nil, bytes: inputText.utf8.count) ? 1 : 0
        }
        if !started, let deadline {
            // (No pending item to start: the deadline is held as `addDeadline` would have held it.)
            stagedDeadlines.stage(deadline.deadline, due: deadline.due)
        }
        return started
    }

    func addItemAttempt(_ item: ItemAttemptRecord) throws {
        try insertItem(item, now: RunTime.now())
    }

    func item(jobID: String) throws -> ItemAttemptRecord? {
        if let items = try keptItems(of: RunItems.runID(ofJob: jobID)) {
            return items.row(jobID: jobID)?.record(runID: items.runID)
        }
        return try db.query("SELECT \(Self.itemColumns) FROM step_items WHERE job_id = ?", [.text(jobID)]).first.map(
            Self.itemRecord)
    }

    func finishItem(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws {
        _ = try finishItem(
            jobID: jobID, result: result, output: result.output.map { JSONWriter.compact.string($0) },
            startedAt: startedAt, finishedAt: finishedAt, from: [.pending, .running])
    }

    func finishRunningItem(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws
        -> ItemAttemptRecord?
    {
        try finishItem(
            jobID: jobID, result: result, output: result.output.map { JSONWriter.compact.string($0) },
            startedAt: startedAt, finishedAt: finishedAt, from: [.running])
    }

    /// Records the result of the item attempt if its status is one of `statuses` (`output`: the result's, as
    /// stored); returns it as recorded.
    func finishItem(
        jobID: String, result: StepEvent, output: String?, startedAt: Double?, finishedAt: Double?,
        from statuses: [ItemStatus]
    ) throws -> ItemAttemptRecord? {
        try writeStagedDeadlines()
        let runID = RunItems.runID(ofJob: jobID)
        try keptItems(of: runID)
        let values: [SQLValue] =
            [
                .text(result.status == .ok ? ItemStatus.succeeded.rawValue : ItemStatus.failed.rawValue),
                output.map { .text($0) } ?? .null, result.error.map { .text($0) } ?? .null,
                result.exception.map { .text(JSONWriter.compact.string($0.json)) } ?? .null,
                StepLog.kept(result.log).map { .text($0) } ?? .null,
                startedAt.map { .double($0) } ?? .null, .double(finishedAt ?? RunTime.now()), .text(jobID),
            ] + statuses.map { .text($0.rawValue) }
        let update = """
            UPDATE step_items SET status = ?, output = ?, error = ?, exception = ?, log = ?,
                started_at = COALESCE(?, started_at, scheduled_at), finished_at = ?, deadline_due = NULL
            WHERE job_id = ? AND status IN (\(statuses.map { _ in "?" }.joined(separator: ", ")))
            """
        var recorded: ItemAttemptRecord?
        var deadlineInRow = false
        if let expected = itemRows?.update(
            runID, { $0.finish(jobID: jobID, from: statuses, result: result, output: output) })
        {
            // The attempt as kept, and as recorded: the update's effect is known.
            try db.query(update, values)
            if (expected != nil) == (db.changes == 1) {
                recorded = expected?.record(runID: runID)
                deadlineInRow = expected?.deadlineInRow ?? false
            } else {
                itemRows?.forget(runID)
                recorded = db.changes == 1 ? try item(jobID: jobID) : nil
            }
        } else {
            let updated = try db.query(
                update + " RETURNING \(Self.itemColumns), CASE WHEN deadline_seconds IS NULL THEN 0 ELSE 1 END", values)
            recorded = updated.first.map(Self.itemRecord)
            deadlineInRow = updated.first?[10].int == 1
        }
        // As for a step: a result in time clears the item's deadline (in the row, above, or in `job_deadlines`: a
        // retry's, an older file's).
        if !deadlineInRow {
            try db.query("DELETE FROM job_deadlines WHERE job_id = ? AND expired_at IS NULL", [.text(jobID)])
        }
        return recorded
    }

    func abandonPendingItems(runID: String, error: String) throws {
        try keptItems(of: runID)
        try db.query(
            "UPDATE step_items SET status = ?, error = ?, finished_at = ? WHERE run_id = ? AND status = ?",
            [
                .text(ItemStatus.failed.rawValue), .text(error), .double(RunTime.now()), .text(runID),
                .text(ItemStatus.pending.rawValue),
            ])
        itemRows?.follow(runID, changed: db.changes) { $0.endPending(stepID: nil, status: .failed, error: error) }
    }

    func latestItems(runID: String, stepID: String) throws -> [ItemAttemptRecord] {
        if let items = try keptItems(of: runID) { return items.latest(stepID: stepID) }
        var latest: [ItemAttemptRecord] = []
        for row in try db.query(
            "SELECT \(Self.itemColumns) FROM step_items WHERE run_id = ? AND step_id = ? ORDER BY item_index, attempt",
            [.text(runID), .text(stepID)])
        {
            let record = Self.itemRecord(row)
            if latest.last?.index == record.index { latest[latest.count - 1] = record } else { latest.append(record) }
        }
        return latest
    }
}
