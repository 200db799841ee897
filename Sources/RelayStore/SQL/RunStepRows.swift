import RelayCore

/// The step attempts of the runs one transaction has read, kept for the rest of that transaction and kept true by
/// its own writes: a decision about a run reads its attempts once (the job's own attempt, the latest attempt of
/// each step, the scope its templates render over all come from the same rows) instead of once for each.
///
/// Only within one transaction: a run's rows cannot change under it there (SQLite has one writer; on PostgreSQL a
/// decision about a run first locks the run's row, see `runRecord`). The transaction's own writes to `steps` keep the
/// rows true: an attempt added is appended, an attempt finished is updated, and any other write to `steps`
/// (`reopenStep`, `dropScheduledJobs`) forgets every run, to be read again.
///
/// A run not read in the transaction yet comes from the connection's cache of runs in flight when it has it
/// (`RunStateCache`, SQLite only), as the decision that last wrote it left it.
final class RunStepRows: @unchecked Sendable {
    // @unchecked Sendable: one transaction's, used only on the thread that runs it.
    struct Row: Sendable {
        var jobID: String
        var stepID: String
        var attempt: Int
        var status: StepStatus
        /// The output as stored (JSON text), parsed when a scope needs it.
        var output: String?
        var error: String?
        /// The attempt's job deadline is in its row (`deadline_seconds`), not in `job_deadlines`.
        var deadlineInRow = false
        /// The output parsed (`parseOutputs`): meaningful when `outputParsed`.
        var outputValue: JSONValue? = nil
        var outputParsed = false

        /// The attempt as the run store's readers see it.
        func record(runID: String) -> StepAttemptRecord {
            StepAttemptRecord(
                jobID: jobID, runID: runID, stepID: stepID, attempt: attempt, status: status, error: error)
        }

        /// The row of an attempt just added (no output yet).
        init(_ step: StepAttemptRecord, deadlineInRow: Bool = false) {
            self.init(
                jobID: step.jobID, stepID: step.stepID, attempt: step.attempt, status: step.status, output: nil,
                error: step.error, deadlineInRow: deadlineInRow)
        }

        init(
            jobID: String, stepID: String, attempt: Int, status: StepStatus, output: String?, error: String?,
            deadlineInRow: Bool = false
        ) {
            self.jobID = jobID
            self.stepID = stepID
            self.attempt = attempt
            self.status = status
            self.output = output
            self.error = error
            self.deadlineInRow = deadlineInRow
        }

        /// The attempt has finished: its status, output as stored and as the value it was written from (which
        /// reading it back would give: JSON text round-trips exactly, `JSONValue`), and error.
        mutating func finish(status: StepStatus, output: String?, value: JSONValue?, error: String?) {
            self.status = status
            self.output = output
            outputValue = output == nil ? nil : value
            outputParsed = true
            self.error = error
        }
    }

    private var runs: [String: [Row]] = [:]
    /// The connection's cache of runs in flight (nil: none). (Weak: the view holds these rows until it commits.)
    private weak var shared: RunStateCache.View?

    init(shared: RunStateCache.View? = nil) {
        self.shared = shared
    }

    /// The run's attempts, oldest attempt first: kept, or from the connection's cache, or read by `read` (and kept).
    @discardableResult
    func rows(of runID: String, read: () throws -> [Row]) rethrows -> [Row] {
        if let rows = runs[runID] { return rows }
        let rows = try shared?.entry(runID)?.rows ?? read()
        runs[runID] = rows
        return rows
    }

    /// Parses the outputs of the run's kept attempts that are not parsed yet (each once, then kept parsed).
    func parseOutputs(of runID: String) {
        guard let run = runs.index(forKey: runID) else { return }
        Self.parseOutputs(&runs.values[run])
    }

    /// Parses the outputs of the attempts that are not parsed yet.
    static func parseOutputs(_ rows: inout [Row]) {
        for index in rows.indices where !rows[index].outputParsed {
            rows[index].outputValue = rows[index].output.flatMap { try? JSONParser.parse($0) }
            rows[index].outputParsed = true
        }
    }

    /// A run's attempts lowest attempt first, in the order they were added among equal attempts (a retry may have
    /// been added before another step's first attempt).
    static func ordered(_ rows: [Row]) -> [Row] {
        // (By index: a zip of the rows would copy each row out twice to compare two integers.)
        guard rows.indices.dropFirst().contains(where: { rows[$0 - 1].attempt > rows[$0].attempt }) else {
            return rows
        }
        return rows.enumerated().sorted { ($0.element.attempt, $0.offset) < ($1.element.attempt, $1.offset) }.map(
            \.element)
    }

    /// The latest attempt of each step among a run's attempts (`ordered`).
    static func latest(_ rows: [Row], runID: String) -> [String: StepAttemptRecord] {
        var latest: [String: StepAttemptRecord] = [:]
        latest.reserveCapacity(rows.count)
        for index in rows.indices { latest[rows[index].stepID] = rows[index].record(runID: runID) }
        return latest
    }

    /// The output of the latest attempt of `stepID` among a run's attempts (`ordered`), as `scopeSteps` has it
    /// (nil: no attempt; null: none), parsed here when it is not yet.
    static func latestOutput(_ rows: [Row], stepID: String) -> JSONValue? {
        guard let row = rows.last(where: { $0.stepID == stepID }) else { return nil }
        let output = row.outputParsed ? row.outputValue : row.output.flatMap { try? JSONParser.parse($0) }
        return output ?? .null
    }

    /// The steps of a run's scope (`Template.Scope.steps`) from its attempts (`ordered`, their outputs parsed).
    static func scopeSteps(_ rows: [Row]) -> JSONObject {
        var steps = JSONObject()
        for index in rows.indices {
            // (Each row read where it is; the entry's four members made in order, not merged from a literal.)
            var entry = JSONObject(minimumCapacity: 4)
            entry["status"] = .string(rows[index].status.rawValue)
            // InsightConnect's `$success`: whether the step's latest attempt succeeded.
            entry["success"] = .bool(rows[index].status == .succeeded)
            entry["output"] = rows[index].outputValue ?? .null
            entry["error"] = rows[index].error.map(JSONValue.string) ?? .null
            steps[rows[index].stepID] = .object(entry)
        }
        return steps
    }

    /// Whether the transaction has read or written the run's attempts.
    func has(_ runID: String) -> Bool { runs[runID] != nil }

    /// The run's attempts as a decision made outside the transaction left them (`RunSpeculation`, applied: they are
    /// what the transaction's own reads and writes would have kept).
    func adopt(_ rows: [Row], of runID: String) { runs[runID] = rows }

    /// The runs whose attempts are kept, and a run's kept attempts (for the connection's cache).
    var keptRuns: [String] { Array(runs.keys) }
    func kept(_ runID: String) -> [Row]? { runs[runID] }

    /// Where the attempt with this job id is kept: its run's place among the kept runs and its index there (valid
    /// until the next run is kept). (A job id begins with its run's id, `runId/stepId/attempt`: see `JobRoute.jobID`.)
    private func position(of jobID: String) -> (run: Dictionary<String, [Row]>.Index, index: Int)? {
        guard let slash = jobID.utf8.firstIndex(of: UInt8(ascii: "/")),
            let run = runs.index(forKey: String(jobID[..<slash])),
            let index = runs.values[run].lastIndex(where: { $0.jobID == jobID })
        else { return nil }
        return (run, index)
    }

    /// Whether the attempt's deadline is in its row: nil when the transaction has not read or written it.
    func deadlineInRow(jobID: String) -> Bool? {
        position(of: jobID).map { runs.values[$0.run][$0.index].deadlineInRow }
    }

    /// An attempt was inserted into the run's rows (only for a run whose rows are kept: others are read when needed,
    /// and the connection's cache forgets them).
    func added(_ row: Row, to runID: String) {
        guard runs[runID] != nil else {
            shared?.changed(runID)
            return
        }
        runs[runID]?.append(row)
    }

    /// Whether the rows stand for a cache kept across transactions (`RunStateCache`).
    var sharesAcrossTransactions: Bool { shared != nil }

    /// Whether the rows hold the attempt with this job id.
    func holds(jobID: String) -> Bool { position(of: jobID) != nil }

    /// The attempt with this job id has finished (when its run's rows are kept; `holds` says).
    func finished(jobID: String, status: StepStatus, output: String?, value: JSONValue?, error: String?) {
        guard let (run, index) = position(of: jobID) else { return }
        runs.values[run][index].finish(status: status, output: output, value: value, error: error)
    }

    /// A run whose rows are not kept was written to: the connection's cache forgets it.
    func changed(_ runID: String) { if runs[runID] == nil { shared?.changed(runID) } }

    /// Something else wrote to `steps`: every run is read again (not from the connection's cache either, which this
    /// transaction's commit clears).
    func forgetAll() {
        runs = [:]
        shared?.invalidate()
    }
}

/// The runs one transaction has read (`runRecord`), kept for the rest of it and kept true by its own writes to
/// their status (`finishRun`, `reopenRun`): a run read when its result came is not read again when it ends. (On
/// PostgreSQL the first read locks the run's row until the transaction ends, so a kept record cannot go stale.)
/// A run not read in the transaction yet comes from the connection's cache of runs in flight when it has it.
final class RunRecords: @unchecked Sendable {
    // @unchecked Sendable: one transaction's, used only on the thread that runs it.
    private var records: [String: RunRecord?] = [:]
    private weak var shared: RunStateCache.View?

    init(shared: RunStateCache.View? = nil) {
        self.shared = shared
    }

    /// The run: kept, or from the connection's cache, or read by `read` (and kept, nil included).
    func record(_ id: String, read: () throws -> RunRecord?) rethrows -> RunRecord? {
        if let kept = records[id] { return kept }
        let record = try shared?.entry(id)?.record ?? read()
        records[id] = .some(record)
        return record
    }

    /// Whether the transaction has read the run (found or not) or written its status.
    func has(_ id: String) -> Bool { records[id] != nil }

    /// The run was created, as `record` says (a "no such run" kept before is not true any more).
    func created(_ record: RunRecord) { records[record.id] = .some(record) }

    /// The run as a decision made outside the transaction left it (`RunSpeculation`, applied).
    func adopt(_ record: RunRecord) { records[record.id] = .some(record) }

    /// The runs kept (nil for "no such run" left out), and a run's record (for the connection's cache).
    var keptRuns: [String] { records.compactMap { $0.value == nil ? nil : $0.key } }
    func kept(_ id: String) -> RunRecord? { records[id] ?? nil }

    /// The run's status has changed (when it is kept; else the connection's cache forgets it).
    func setStatus(_ status: RunStatus, of id: String) {
        if case .some(.some(var record)) = records[id] {
            record.status = status
            records[id] = .some(record)
        } else {
            shared?.changed(id)
        }
    }
}

/// Job deadlines a transaction has been given (`addDeadline`) and not yet written: a step's goes into its attempt's
/// row when the attempt is added next (the dispatcher gives a job its deadline just before recording its attempt);
/// what is left when the decision is over goes to `job_deadlines` (`SQLRunStoreTransaction.writeStagedDeadlines`).
final class StagedDeadlines: @unchecked Sendable {
    // @unchecked Sendable: one transaction's, used only on the thread that runs it.
    private var staged: [String: (deadline: JobDeadline, due: Double)] = [:]
    /// Job ids in the order their deadlines came (so that leftovers are written in that order).
    private var order: [String] = []

    /// Stages a deadline; one staged before for the job stands (as `addDeadline`'s does).
    func stage(_ deadline: JobDeadline, due: Double) {
        guard staged[deadline.jobID] == nil else { return }
        staged[deadline.jobID] = (deadline, due)
        order.append(deadline.jobID)
    }

    /// The deadline staged for this job, taken.
    func take(_ jobID: String) -> (deadline: JobDeadline, due: Double)? {
        staged.removeValue(forKey: jobID)
    }

    /// What is left, in order, taken.
    func takeAll() -> [(deadline: JobDeadline, due: Double)] {
        guard !order.isEmpty else { return [] }
        defer {
            staged = [:]
            order = []
        }
        return order.compactMap { staged[$0] }
    }
}
