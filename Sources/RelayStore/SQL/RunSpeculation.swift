import RelayCore
import RelayTransport
import Synchronization

/// A decision about one run made outside the database, from the run as the connection's cache of runs in flight has
/// it (`RunStateCache`), and applied later in a real transaction only if the run has not changed meanwhile
/// (`RunStoreTransaction.apply(_:)`): the decision's own work (reading the run's scope, rendering the next step's
/// input, writing its job) is then done by the thread that hands the result in, while another decision holds the
/// connection, and the transaction only checks the run's version and writes what was decided.
///
/// A transaction over that one run: its reads come from the cached run, as the decisions before left it, and its
/// writes change that copy and are kept, in order, to be written by `SQLRunStoreTransaction.apply(_:)` with the same
/// arguments (so what is written is what a decision in the transaction would have written from the same run). Only
/// what a result usually needs is answered: the run's record, attempts and scope, a step's result, a job's
/// attempt and deadline, the run's end, and its `for_each` items when the cache has them (`RunItems`: an item's
/// result, the next items started, the step's outputs gathered). Anything else (another run, retries waiting,
/// children, artifacts…) marks the speculation unusable (`isUsable`) and throws, and the decision is then made in the
/// transaction as before; so does a run the cache does not have (a read from the database would hold it). Several
/// results of one run may be decided over one speculation, one after the other; it is applied once, with all.
public final class RunSpeculation: RunStoreTransaction, @unchecked Sendable {
    // @unchecked Sendable: built and used by one task, then handed, no longer used, to the transaction that applies it.

    /// A write the speculation decided, with its arguments.
    enum Write {
        /// `deadlineInRow`: whether the attempt's deadline is in its row (as the speculation's row says).
        case finishStep(
            jobID: String, result: StepEvent, output: String?, startedAt: Double?, finishedAt: Double?,
            deadlineInRow: Bool)
        case addDeadline(JobDeadline, startingAt: Double?)
        /// `input`: the attempt's input as stored (JSON text), written here, outside the transaction; `added`:
        /// whether the attempt was not there (the insert adds a row); `deadlineInRow`: whether a deadline just given
        /// to its job goes into its row.
        case addStep(StepAttemptRecord, input: String?, added: Bool, deadlineInRow: Bool)
        /// `ended`: what `finishRun` answered (whether the run was running); `output` as stored (JSON text).
        case finishRun(id: String, status: RunStatus, error: String?, output: String?, ended: Bool)
        /// A new run's only (`init(newRunID:startedAt:)`).
        case recordWorkflowVersion(StoredWorkflowVersion)
        /// A new run's only; with the speculation's start time, and its trigger event's output as stored.
        case createRun(NewRun, trigger: String)
        // (The items' cases are boxed: as inline payloads they made every write larger, a plain step's too, and
        // its replay measurably slower: docs/benchmarks.md, tenth round.)
        /// `written`: what `addItems` answered.
        indirect case addItems(
            runID: String, stepID: String, items: [JSONValue], started: [JSONValue], written: Set<Int>)
        /// `started`: whether the item was pending.
        indirect case startItem(jobID: String, input: JSONValue, started: Bool)
        /// `inserted`: whether it was not there.
        indirect case addItemAttempt(ItemAttemptRecord, inserted: Bool)
        /// `from`: the statuses it may end from (`finishItem`, `finishRunningItem`); `recorded`: whether it did.
        indirect case finishItem(
            jobID: String, result: StepEvent, output: String?, startedAt: Double?, finishedAt: Double?,
            from: [ItemStatus], recorded: Bool)
        /// `count`: how many were pending.
        indirect case skipPendingItems(runID: String, stepID: String, reason: String, count: Int)
        indirect case abandonPendingItems(runID: String, error: String)

        /// Whether it is about `for_each` items (their own rows, `RunItemRows`, follow the writes one by one).
        var isAboutItems: Bool {
            switch self {
            case .addItems, .startItem, .addItemAttempt, .finishItem, .skipPendingItems, .abandonPendingItems: true
            case .finishStep, .addDeadline, .addStep, .finishRun, .recordWorkflowVersion, .createRun: false
            }
        }
    }

    let runID: String
    /// The cache entry's version the speculation started from.
    let version: UInt64
    /// The run's record and attempts as its decisions leave them (what the transaction that applies it keeps of the
    /// run, `SQLRunStoreTransaction.apply`).
    private(set) var record: RunRecord
    private(set) var rows: [RunStepRows.Row]
    /// Jobs given a deadline that goes into the row of the attempt added next (`addDeadline` with a start), as the
    /// transaction stages them (`StagedDeadlines`).
    private var stagedDeadlines: Set<String> = []
    /// Whether a result was recorded while a deadline was staged (the transaction then writes it to `job_deadlines`,
    /// or not, by the rows as they are at that moment).
    private(set) var flushesDeadlines = false

    /// Whether the transaction that applies it must make its writes one by one, with its own rows kept true by
    /// them (`SQLRunStoreTransaction.apply`): writes about items, a staged deadline written out by a result; else the
    /// speculation's record and attempts are what those writes would leave, and only their statements are made.
    var replaysWrites: Bool { flushesDeadlines || writes.contains(where: \.isAboutItems) }
    /// The run's `for_each` items, when the cache knows them (nil: a call about items is not answered).
    private var items: RunItems?
    private var trigger: JSONValue
    /// For a run that does not exist yet: when it starts; nil for a run in flight.
    let newRunStartedAt: Double?
    /// Whether the new run has been created (its own reads and writes are answered only then).
    private var created = false
    private(set) var writes: [Write] = []
    /// Why the speculation cannot be used (the first call it could not answer); nil while it can.
    public private(set) var unusable: String?

    /// How many results were decided over it (the dispatcher's count, for `relay bench`'s figures).
    public var results = 0

    /// Whether every call was answered from the cached run: only then may it be applied.
    public var isUsable: Bool { unusable == nil }

    init(entry: RunStateCache.Entry, trigger: JSONValue) {
        runID = entry.record.id
        version = entry.version
        record = entry.record
        rows = entry.rows
        items = entry.items
        self.trigger = trigger
        newRunStartedAt = nil
    }

    /// A speculation of run `newRunID` before it exists: `createRun` of that run, once, makes it; a new run has no
    /// attempts, and its scope is its event.
    init(newRunID: String, startedAt: Double) {
        runID = newRunID
        version = 0
        record = RunRecord(id: newRunID, workflow: "", version: nil, status: .running, startedAt: startedAt)
        rows = []
        items = RunItems(runID: newRunID)
        trigger = .null
        newRunStartedAt = startedAt
    }

    /// Whether it speculates a run that did not exist (applied by `RunStoreTransaction.applyNewRun(_:)`).
    public var isNewRun: Bool { newRunStartedAt != nil }

    /// A call the cached run cannot answer: the speculation is not used (even when the caller catches the error).
    struct Unanswerable: Error, CustomStringConvertible {
        var description: String
    }

    private func unanswerable(_ what: String) -> Unanswerable {
        if unusable == nil { unusable = what }
        return Unanswerable(description: "a speculative decision cannot \(what)")
    }

    /// The caller could not decide over it (a decision threw after deciding some of its writes): not used.
    public func giveUp(_ what: String) {
        if unusable == nil { unusable = what }
    }

    private func ownRun(_ id: String, _ what: String) throws {
        guard id == runID else { throw unanswerable("\(what) of another run") }
        guard created || !isNewRun else { throw unanswerable("\(what) of a run not created yet") }
    }

    // MARK: - What it answers

    public func runRecord(id: String) throws -> RunRecord? {
        try ownRun(id, "read the record")
        return record
    }

    public func runStatus(id: String) throws -> RunStatus? {
        try ownRun(id, "read the status")
        return record.status
    }

    public func step(jobID: String, runID: String) throws -> StepAttemptRecord? {
        try ownRun(runID, "read an attempt")
        // (Job ids are unique among a run's attempts: found in any order.)
        if let row = rows.last(where: { $0.jobID == jobID }) { return row.record(runID: runID) }
        // A job id begins with its run's id (`JobRoute.jobID`): one of this run's is not among its attempts (which are
        // all here) when it has none. Another run's job is looked up by its id alone in a transaction: not here.
        guard jobID.hasPrefix(runID + "/") else { throw unanswerable("read an attempt of another run") }
        return nil
    }

    public func latestSteps(runID: String) throws -> [String: StepAttemptRecord] {
        try ownRun(runID, "read the attempts")
        return RunStepRows.latest(RunStepRows.ordered(rows), runID: runID)
    }

    public func scope(runID: String) throws -> Template.Scope {
        try ownRun(runID, "read the scope")
        RunStepRows.parseOutputs(&rows)
        return Template.Scope(trigger: trigger, steps: RunStepRows.scopeSteps(RunStepRows.ordered(rows)))
    }

    public func latestOutput(runID: String, stepID: String) throws -> JSONValue? {
        try ownRun(runID, "read the scope")
        return RunStepRows.latestOutput(RunStepRows.ordered(rows), stepID: stepID)
    }

    public func finishStep(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws {
        guard let index = rows.lastIndex(where: { $0.jobID == jobID }) else {
            throw unanswerable("record the result of an attempt that is not the run's")
        }
        let output = result.output.map { JSONWriter.compact.string($0) }
        rows[index].finish(status: StepStatus(result.status), output: output, value: result.output, error: result.error)
        // (The transaction writes the deadlines staged and not yet taken to `job_deadlines` first: none is staged
        // any more. Never so from a dispatcher's decision, which adds a step's attempt right after its deadline.)
        if !stagedDeadlines.isEmpty {
            flushesDeadlines = true
            stagedDeadlines.removeAll()
        }
        writes.append(
            .finishStep(
                jobID: jobID, result: result, output: output, startedAt: startedAt, finishedAt: finishedAt,
                deadlineInRow: rows[index].deadlineInRow))
    }

    public func addDeadline(_ deadline: JobDeadline, startingAt start: Double?) throws {
        try ownRun(deadline.runID, "give a deadline to a job")
        if start != nil { stagedDeadlines.insert(deadline.jobID) }
        writes.append(.addDeadline(deadline, startingAt: start))
    }

    public func addStep(_ step: StepAttemptRecord) throws {
        try ownRun(step.runID, "add an attempt")
        // (As the insert's ON CONFLICT DO NOTHING: an attempt recorded already stays as it is. Its deadline, when one
        // was just given, goes into its row, and is taken whether the row is added or not, as the transaction's.)
        let deadlineInRow = stagedDeadlines.remove(step.jobID) != nil
        let added = !rows.contains(where: { $0.jobID == step.jobID })
        if added { rows.append(RunStepRows.Row(step, deadlineInRow: deadlineInRow)) }
        writes.append(
            .addStep(
                step, input: step.input.map { JSONWriter.compact.string($0) }, added: added,
                deadlineInRow: deadlineInRow))
    }

    public func finishRun(id: String, status: RunStatus, error: String?, output: JSONValue?) throws -> Bool {
        try ownRun(id, "end the run")
        let ended = record.status == .running
        if ended { record.status = status }
        writes.append(
            .finishRun(
                id: id, status: status, error: error, output: output.map { JSONWriter.compact.string($0) },
                ended: ended))
        return ended
    }

    // MARK: - Items of `for_each` steps

    /// The run's items, when the cache knows them.
    private func ownItems(_ runID: String, _ what: String) throws -> RunItems {
        try ownRun(runID, what)
        guard let items else { throw unanswerable("\(what) the cache does not have") }
        return items
    }

    /// Changes the run's items (known: `ownItems` first).
    private func changeItems<T>(_ change: (inout RunItems) -> T) -> T { change(&items!) }

    public func addItems(runID: String, stepID: String, items: [JSONValue], started: [JSONValue]) throws -> Set<Int> {
        _ = try ownItems(runID, "add items")
        var written: Set<Int> = []
        for (index, item) in items.enumerated() {
            let jobID = JobRoute.jobID(runID: runID, stepID: stepID, item: index, attempt: 1)
            // (Optional.none: a `nil` literal would be JSON's null.)
            let input: JSONValue? = index < started.count ? started[index] : Optional.none
            let row = RunItems.Row(
                jobID: jobID, stepID: stepID, index: index, attempt: 1,
                status: index < started.count ? .running : .pending, item: item, input: input)
            if changeItems({ $0.insert(row) }), index < started.count { written.insert(index) }
        }
        writes.append(.addItems(runID: runID, stepID: stepID, items: items, started: started, written: written))
        return written
    }

    public func itemsToStart(runID: String, stepID: String, concurrency: Int) throws -> ItemSlots {
        try ownItems(runID, "read items").slots(stepID: stepID, concurrency: concurrency)
    }

    public func startItem(jobID: String, input: JSONValue) throws {
        _ = try ownItems(RunItems.runID(ofJob: jobID), "start an item")
        let started = changeItems { $0.start(jobID: jobID, input: input, deadlineInRow: false, bytes: 0) }
        writes.append(.startItem(jobID: jobID, input: input, started: started))
    }

    public func addItemAttempt(_ item: ItemAttemptRecord) throws {
        _ = try ownItems(item.runID, "add an item's attempt")
        let inserted = changeItems { $0.insert(RunItems.Row(item)) }
        writes.append(.addItemAttempt(item, inserted: inserted))
    }

    public func item(jobID: String) throws -> ItemAttemptRecord? {
        try ownItems(RunItems.runID(ofJob: jobID), "read an item").row(jobID: jobID)?.record(runID: runID)
    }

    public func finishItem(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws {
        _ = try finishItem(
            jobID: jobID, result: result, startedAt: startedAt, finishedAt: finishedAt, from: [.pending, .running])
    }

    public func finishRunningItem(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws
        -> ItemAttemptRecord?
    {
        try finishItem(jobID: jobID, result: result, startedAt: startedAt, finishedAt: finishedAt, from: [.running])
    }

    private func finishItem(
        jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?, from statuses: [ItemStatus]
    ) throws -> ItemAttemptRecord? {
        _ = try ownItems(RunItems.runID(ofJob: jobID), "record an item's result")
        let output = result.output.map { JSONWriter.compact.string($0) }
        let recorded = changeItems { $0.finish(jobID: jobID, from: statuses, result: result, output: output) }
        writes.append(
            .finishItem(
                jobID: jobID, result: result, output: output, startedAt: startedAt, finishedAt: finishedAt,
                from: statuses, recorded: recorded != nil))
        return recorded?.record(runID: runID)
    }

    public func skipPendingItems(runID: String, stepID: String, reason: String) throws -> Int {
        _ = try ownItems(runID, "skip items")
        let count = changeItems { $0.endPending(stepID: stepID, status: .skipped, error: reason) }
        writes.append(.skipPendingItems(runID: runID, stepID: stepID, reason: reason, count: count))
        return count
    }

    public func abandonPendingItems(runID: String, error: String) throws {
        _ = try ownItems(runID, "abandon items")
        _ = changeItems { $0.endPending(stepID: nil, status: .failed, error: error) }
        writes.append(.abandonPendingItems(runID: runID, error: error))
    }

    public func latestItems(runID: String, stepID: String) throws -> [ItemAttemptRecord] {
        try ownItems(runID, "read items").latest(stepID: stepID)
    }

    // MARK: - A new run

    /// A new run's (kept, as the run's creation is, to be written before it).
    public func recordWorkflowVersion(_ version: StoredWorkflowVersion) throws {
        guard isNewRun, !created else { throw unanswerable("record a workflow version") }
        writes.append(.recordWorkflowVersion(version))
    }

    /// Creates the new run this speculation is of (once): it is new here; the transaction that applies the
    /// speculation finds out whether it is there.
    public func createRun(_ run: NewRun) throws -> Bool {
        guard let startedAt = newRunStartedAt, run.id == runID, !created else { throw unanswerable("create a run") }
        var run = run
        run.startedAt = run.startedAt ?? startedAt
        // As the transaction's `createRun` leaves it: running, no attempts, its event the scope's trigger.
        record = RunRecord(
            id: run.id, workflow: run.workflow, version: run.version, status: .running, parent: run.parent,
            timeout: run.timeout, startedAt: run.startedAt)
        trigger = run.event.output
        created = true
        writes.append(.createRun(run, trigger: JSONWriter.compact.string(run.event.output)))
        return true
    }

    // MARK: - What it does not

    public func recordEvent(_ event: TriggerEvent, payload: String?) throws -> Bool {
        throw unanswerable("record an event")
    }
    public func workflowVersion(hash: String) throws -> StoredWorkflowVersion? {
        throw unanswerable("read a workflow version")
    }
    public func runningChildren(of runID: String) throws -> [RunRecord] { throw unanswerable("read children") }
    public func overdueRuns(now: Double, limit: Int) throws -> [RunRecord] { throw unanswerable("read overdue runs") }
    public func reopenRun(id: String) throws -> Bool { throw unanswerable("reopen a run") }
    public func step(jobID: String) throws -> StepAttemptRecord? { throw unanswerable("read an attempt by its id") }
    public func reopenStep(jobID: String) throws { throw unanswerable("reopen an attempt") }
    public func schedule(_ message: BusMessage, jobID: String, dueAt: Double) throws {
        throw unanswerable("schedule a retry")
    }
    public func takeDueJobs(now: Double, limit: Int) throws -> [BusMessage] { throw unanswerable("take due jobs") }
    public func takeOverdueJobs(now: Double, limit: Int) throws -> [JobDeadline] {
        throw unanswerable("take overdue jobs")
    }
    public func restartDeadlines(now: Double) throws { throw unanswerable("restart deadlines") }
    public func recordLateResult(jobID: String, result: StepEvent) throws -> Bool {
        throw unanswerable("record a late result")
    }
    public func dropScheduledJobs(runID: String, error: String) throws -> [String] {
        throw unanswerable("drop retries waiting")
    }
    public func addArtifact(_ artifact: RunArtifact) throws { throw unanswerable("add an artifact") }
    public func appendGlobalArtifact(name: String, entry: JSONValue, runID: String, stepID: String) throws -> Int {
        throw unanswerable("append to a global artifact")
    }
    public func globalArtifactEntries(name: String) throws -> [JSONValue] {
        throw unanswerable("read a global artifact")
    }
    public func recordDeadLetter(_ letter: DeadLetter, partition: Int, offset: Int64) throws -> Bool {
        throw unanswerable("record a dead letter")
    }
    public func removeDeadLetter(id: Int64) throws -> DeadLetterRecord? { throw unanswerable("remove a dead letter") }
    public func applyEventRetention(seconds: Double, now: Double, limit: Int) throws -> Int {
        throw unanswerable("apply the event retention")
    }
    public func apply(_ speculation: RunSpeculation) throws -> Bool { false }
    public func applyNewRun(_ speculation: RunSpeculation) throws -> Bool? { nil }

    /// Results decided ahead and applied, speculations found stale (their run had changed), and new runs' applied,
    /// in this process (for `relay bench`).
    public static var counts: (applied: Int, stale: Int, newRuns: Int) {
        (
            counters.applied.load(ordering: .relaxed), counters.stale.load(ordering: .relaxed),
            counters.newRuns.load(ordering: .relaxed)
        )
    }

    static let counters = Counters()

    final class Counters: Sendable {
        let applied = Atomic<Int>(0)
        let stale = Atomic<Int>(0)
        let newRuns = Atomic<Int>(0)
    }
}

extension SQLRunStoreTransaction {
    func apply(_ speculation: RunSpeculation) throws -> Bool {
        let runID = speculation.runID
        guard speculation.isUsable, !speculation.isNewRun else { return false }
        guard let runStates, runStates.holds(runID, atVersion: speculation.version), !stepRows.has(runID),
            !runRecords.has(runID), itemRows?.has(runID) != true
        else {
            RunSpeculation.counters.stale.add(1, ordering: .relaxed)
            return false
        }
        RunSpeculation.counters.applied.add(max(1, speculation.results), ordering: .relaxed)
        guard !speculation.replaysWrites else {
            // The run's record and attempts as the speculation started from them (from the cache), kept true by the
            // writes below as a decision's own writes keep them. (Its items are taken from the cache by the first
            // write to them.)
            _ = try runRecord(id: runID)
            _ = try runRows(runID)
            for write in speculation.writes { _ = try replay(write) }
            return true
        }
        // The run's record and attempts as the speculation leaves them: it started from the cache's, at the version
        // checked above, and changed its copy as the writes below change the rows (kept first: the deadlines the
        // writes stage look up the attempts they are for). Its writes' statements alone follow, each checked to have
        // done what the speculation decided.
        stepRows.adopt(speculation.rows, of: runID)
        runRecords.adopt(speculation.record)
        for write in speculation.writes { try replayStatement(write, of: runID) }
        return true
    }

    /// A step's or a run's write a speculation kept, its statement alone (`apply`: the rows kept are the
    /// speculation's).
    private func replayStatement(_ write: RunSpeculation.Write, of runID: String) throws {
        switch write {
        case .finishStep(let jobID, let result, let output, let startedAt, let finishedAt, let deadlineInRow):
            try writeStagedDeadlines()
            try expect(
                updateStep(jobID: jobID, result: result, output: output, startedAt: startedAt, finishedAt: finishedAt),
                "an attempt's result recorded", of: runID)
            try clearDeadline(jobID: jobID, inRow: deadlineInRow)
        case .addDeadline(let deadline, let start):
            try addDeadline(deadline, startingAt: start)
        case .addStep(let step, let input, let added, let deadlineInRow):
            let inserted = try insertStep(step, input: input)
            try expect(
                inserted.added == added && inserted.deadlineInRow == deadlineInRow, "an attempt added", of: runID)
        case .finishRun(let id, let status, let error, let output, let ended):
            try expect(
                updateRun(id: id, status: status, error: error, storedOutput: output) == ended,
                "whether the run was running", of: id)
        default:
            // (Not a write of a run in flight's steps: `apply` replays those through `replay`.)
            _ = try replay(write)
        }
    }

    func applyNewRun(_ speculation: RunSpeculation) throws -> Bool? {
        // (A run this transaction has read or written already is not new to it: decided here.)
        guard speculation.isUsable, speculation.isNewRun, !stepRows.has(speculation.runID),
            !runRecords.has(speculation.runID), itemRows?.has(speculation.runID) != true
        else { return nil }
        for write in speculation.writes {
            // The run exists: nothing else is written, as a decision's `guard createRun` would stop there.
            guard try replay(write) else { return false }
        }
        RunSpeculation.counters.newRuns.add(1, ordering: .relaxed)
        return true
    }

    /// Makes a write a speculation kept, with its arguments; false when it was a run's creation and the run exists.
    private func replay(_ write: RunSpeculation.Write) throws -> Bool {
        switch write {
        case .finishStep(let jobID, let result, let output, let startedAt, let finishedAt, _):
            try finishStep(jobID: jobID, result: result, output: output, startedAt: startedAt, finishedAt: finishedAt)
        case .addDeadline(let deadline, let start):
            try addDeadline(deadline, startingAt: start)
        case .addStep(let step, let input, _, _):
            try addStep(step, input: input)
        case .finishRun(let id, let status, let error, let output, let ended):
            try expect(
                finishRun(id: id, status: status, error: error, storedOutput: output) == ended,
                "whether the run was running", of: id)
        case .recordWorkflowVersion(let version):
            try recordWorkflowVersion(version)
        case .createRun(let run, let trigger):
            return try createRun(run, trigger: trigger)
        case .addItems(let runID, let stepID, let items, let started, let written):
            try expect(
                addItems(runID: runID, stepID: stepID, items: items, started: started) == written, "items added",
                of: runID)
        case .startItem(let jobID, let input, let started):
            try expect(
                startingItem(jobID: jobID, input: input) == started, "an item started", of: RunItems.runID(ofJob: jobID)
            )
        case .addItemAttempt(let item, let inserted):
            try expect(insertItem(item, now: RunTime.now()) == inserted, "an item's attempt added", of: item.runID)
        case .finishItem(let jobID, let result, let output, let startedAt, let finishedAt, let statuses, let recorded):
            let done = try finishItem(
                jobID: jobID, result: result, output: output, startedAt: startedAt, finishedAt: finishedAt,
                from: statuses)
            try expect((done != nil) == recorded, "an item's result recorded", of: RunItems.runID(ofJob: jobID))
        case .skipPendingItems(let runID, let stepID, let reason, let count):
            try expect(
                skipPendingItems(runID: runID, stepID: stepID, reason: reason) == count, "items skipped", of: runID)
        case .abandonPendingItems(let runID, let error):
            try abandonPendingItems(runID: runID, error: error)
        }
        return true
    }

    /// A replayed write did what the speculation decided (it cannot do otherwise: the run is as the speculation read
    /// it; said plainly should it ever, and the connection's cache emptied: the batch fails as a failed commit does,
    /// and what is decided next, the batch too when it comes again, is decided from the file).
    private func expect(_ same: Bool, _ what: String, of runID: String) throws {
        guard !same else { return }
        runStates?.discardAll()
        throw RelayError(
            RelayError.Code(rawValue: "internal"),
            "run \(runID): \(what) differed from what a decision made outside the transaction expected; nothing of the "
                + "batch was committed")
    }
}
