import RelayCore
import RelayTransport

/// Every run's state and history: what the dispatcher decides is written here, and people and tools (`relay runs`,
/// `relay bench`) read it. The dispatcher is written against this protocol; `SQLRunStore` implements it (the
/// embedded bus and the dispatcher on Kafka), and another database is a new conformance, not an edit of the
/// dispatcher.
///
/// A decision, the messages it causes and the acknowledgement of its input commit together: `transaction` runs
/// the dispatcher's body in one transaction of the store, publishes what the body returns and acknowledges the
/// deliveries, so that after a crash either all three happened or none did (a redelivered input then finds its
/// decision recorded and emits nothing twice). How is the store's business: one SQLite transaction with the
/// embedded bus's tables, or an outbox table written in the transaction and published afterwards (Kafka).
///
/// The body is synchronous: one batch of decisions is a short run of point reads and writes, and the SQLite
/// store runs it on its database queue without a hop per statement. A store over a network database runs the body
/// on a thread of its own and waits for each statement there (never on Swift's cooperative pool).
public protocol RunStore: Sendable {
    /// Runs `body` in one transaction that also publishes the messages it returns and acknowledges `deliveries`;
    /// returns the body's value once all of it is durable.
    func transaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (any RunStoreTransaction) throws -> (T, [BusMessage])
    ) async throws -> T

    /// The same as `transaction`, except that it may return once the decision is committed, before what it
    /// publishes is published and its deliveries acknowledged: those follow in commit order, while the caller goes
    /// on (the dispatcher's next batch is decided during the broker's round trip). A failure to publish is thrown by
    /// a later call, or by `flush`. A store whose transaction publishes as it commits (the embedded bus's) returns
    /// once all of it is done, as `transaction` does.
    func pipelinedTransaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (any RunStoreTransaction) throws -> (T, [BusMessage])
    ) async throws -> T

    /// Returns once everything `pipelinedTransaction` committed is published and acknowledged.
    func flush() async throws

    /// Publishes what an earlier process decided but did not get to publish (an outbox left by a crash). The
    /// dispatcher calls it before it decides anything new.
    func publishPending() async throws

    // MARK: Reads

    /// The latest runs, newest first.
    func runs(limit: Int) async throws -> [RunSummary]

    /// One run with every step attempt, or nil.
    func run(id: String) async throws -> RunDetail?

    /// How many runs there are in each status.
    func runCounts() async throws -> [RunStatus: Int]

    /// A workflow version runs started with (`RunSummary.version`), or nil.
    func workflowVersion(hash: String) async throws -> StoredWorkflowVersion?

    /// The documents the run's `artifact` steps kept, in the order they were made.
    func artifacts(runID: String) async throws -> [RunArtifact]

    /// Every global artifact (a named list that `global_artifact` steps append to and look up), by name.
    func globalArtifacts() async throws -> [GlobalArtifactSummary]

    /// The entries of the global artifact `name`, oldest first; nil when there is no such artifact.
    func globalArtifact(name: String) async throws -> [JSONValue]?

    // MARK: Reads of the operator's API

    /// The runs `query` selects, newest first, one page.
    func runs(matching query: RunQuery) async throws -> RunPage

    /// How many runs of `workflow` started since `since` are in each status.
    func runCounts(workflow: String, since: Double) async throws -> [RunStatus: Int]

    /// The versions of the workflow `name` runs started with, newest first.
    func workflowVersions(name: String, limit: Int) async throws -> [WorkflowVersionSummary]

    /// The changes logged after `sequence` (of one run when `runID` is given), oldest first.
    func changes(after sequence: Int64, runID: String?, limit: Int) async throws -> [RunChange]

    /// The sequence numbers of the latest change logged and of the oldest one kept (0 when there is none).
    func changeSequences() async throws -> (latest: Int64, oldest: Int64)

    /// Forgets the oldest changes logged before `time`, at most 10,000 (one short transaction); returns how many.
    @discardableResult
    func pruneChanges(before time: Double) async throws -> Int

    // MARK: Dead letters and events' payloads

    /// The dead letters kept (not redriven or discarded), oldest first by id, after `id` (paging), at most `limit`
    /// (1 to `DeadLetterLimits.maximumList`). Each carries only the first `DeadLetterLimits.excerptBytes` of its
    /// value: `deadLetter(id:)` reads one whole.
    func deadLetters(limit: Int, after id: Int64?) async throws -> [DeadLetterRecord]

    /// One kept dead letter, or nil.
    func deadLetter(id: Int64) async throws -> DeadLetterRecord?

    /// The kept events (payload within the retention) of trigger instance `instance` received from `since` to
    /// `until` (seconds since 1970, both included), oldest first, at most `limit`.
    func events(instance: String, since: Double, until: Double, limit: Int) async throws -> [TriggerEvent]

    /// How many kept events `events(instance:since:until:limit:)` would read, and their payloads' bytes.
    func eventVolume(instance: String, since: Double, until: Double) async throws -> (count: Int, bytes: Int)

    /// Whether its transactions are `transport`'s own (the embedded bus's database): a decision and the
    /// acknowledgement of any delivery of `transport` then commit in one transaction of one connection.
    func sharesTransactions(with transport: any Transport) -> Bool

    /// A transaction over one run outside the database, from what the store keeps of the runs in flight, whose
    /// writes a later transaction applies if the run has not changed meanwhile (`RunStoreTransaction.apply(_:)`):
    /// nil when the store keeps nothing of the run (PostgreSQL keeps nothing; SQLite, the runs its connection's
    /// decisions left running).
    func speculation(runID: String) -> RunSpeculation?

    /// A transaction outside the database over run `runID` as it would be if it did not exist yet: it answers
    /// `createRun` of that run (and `recordWorkflowVersion`) and then what `speculation(runID:)`'s answer would, and
    /// a later transaction writes what it decided if the run is new there (`RunStoreTransaction.applyNewRun(_:)`):
    /// nil when the store decides nothing outside its transactions.
    func newRunSpeculation(runID: String) -> RunSpeculation?
}

extension RunStore {
    public func speculation(runID: String) -> RunSpeculation? { nil }
    public func newRunSpeculation(runID: String) -> RunSpeculation? { nil }
}

/// What the dispatcher reads and writes inside one `RunStore.transaction`.
public protocol RunStoreTransaction {
    /// Records a trigger event's id; false when it was recorded before (a redelivery: nothing to do). `payload`:
    /// the event as stored (`JSONWriter.compact` of `event.json`) when the caller has written it already, outside
    /// the transaction (nil: written here).
    func recordEvent(_ event: TriggerEvent, payload: String?) throws -> Bool

    /// Keeps a workflow version (nothing when it is kept already): what a run that started with it goes on with.
    func recordWorkflowVersion(_ version: StoredWorkflowVersion) throws

    /// A workflow version kept by `recordWorkflowVersion`, or nil.
    func workflowVersion(hash: String) throws -> StoredWorkflowVersion?

    /// Creates a running run; false when a run with this id exists.
    func createRun(_ run: NewRun) throws -> Bool

    /// The run, or nil when there is no such run.
    func runRecord(id: String) throws -> RunRecord?

    /// The runs started by steps of run `runID` (sub-workflows) that are still running.
    func runningChildren(of runID: String) throws -> [RunRecord]

    /// Running runs whose deadline has passed at `now`, earliest first (at most `limit`).
    func overdueRuns(now: Double, limit: Int) throws -> [RunRecord]

    /// Sets an ended run running again (resume), its timeout counting from now; false when it is running or
    /// unknown.
    func reopenRun(id: String) throws -> Bool

    /// Adds one attempt of a step (nothing when an attempt with its job id exists). Attempts added `skipped` or
    /// `failed` are finished at once.
    func addStep(_ step: StepAttemptRecord) throws

    /// The attempt with this job id, or nil.
    func step(jobID: String) throws -> StepAttemptRecord?

    /// The attempt with this job id, of run `runID` (its job id names it): the same as `step(jobID:)`, read with the
    /// run's other attempts, which a decision about the run reads next (`latestSteps`, `scope`).
    func step(jobID: String, runID: String) throws -> StepAttemptRecord?

    /// The latest attempt (highest attempt number) of each step of the run that has one, by step id: what the
    /// dispatcher decides readiness from (a step with an attempt has been started or decided, and never is again).
    func latestSteps(runID: String) throws -> [String: StepAttemptRecord]

    /// The run's status, or nil when there is no such run.
    func runStatus(id: String) throws -> RunStatus?

    /// Sets an ended attempt running again, its output and error cleared (a `for_each` step resumed: its items
    /// keep their history).
    func reopenStep(jobID: String) throws

    /// Records a worker's result for a running attempt.
    /// (`startedAt`, `finishedAt`: the worker's times, both from its clock; without them, the attempt's start is
    /// when it was scheduled and its end is now.)
    func finishStep(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws

    /// Ends a running run with its output (a finished one is left as it is); false when it was not running.
    @discardableResult
    func finishRun(id: String, status: RunStatus, error: String?, output: JSONValue?) throws -> Bool

    /// Keeps a message (with its headers) to publish at `dueAt`: a retry waiting for its backoff, a request, an
    /// event waiting for its workflow.
    func schedule(_ message: BusMessage, jobID: String, dueAt: Double) throws

    /// Removes and returns scheduled jobs that are due at `now`, oldest due first (at most `limit`). A job taken
    /// here is published now: its deadline (if one was added) starts now.
    func takeDueJobs(now: Double, limit: Int) throws -> [BusMessage]

    /// Holds a deadline for a job (nothing when the job has one): from `start`, or, when `start` is nil (a retry
    /// waiting for its backoff), from when `takeDueJobs` takes the job. Recording the job's result clears it. Given
    /// just before the job's attempt is added (`addStep`) or its item started (`startItem`), it is kept in the
    /// attempt's row (cheaper: no row of its own to write and delete).
    func addDeadline(_ deadline: JobDeadline, startingAt start: Double?) throws

    /// Returns the deadlines passed at `now` whose job has no result, earliest first (at most `limit`), and marks
    /// them handled: each is returned once.
    func takeOverdueJobs(now: Double, limit: Int) throws -> [JobDeadline]

    /// Gives every pending job deadline, and the deadline of every running sub-workflow run (its calling step's
    /// deadline), at least its full time from `now` again (a dispatcher starting: results that came while it was
    /// down, and jobs its restarted workers run again, are not failed for its downtime).
    func restartDeadlines(now: Double) throws

    /// Records a result that came for an attempt after its deadline had failed it (the attempt stays failed); false
    /// when the attempt's deadline did not fail it (a redelivered result).
    func recordLateResult(jobID: String, result: StepEvent) throws -> Bool

    /// Removes the run's scheduled jobs (retries waiting for their backoff) and their deadlines, and records their
    /// attempts failed with `error`; returns their job ids.
    func dropScheduledJobs(runID: String, error: String) throws -> [String]

    /// The run's trigger event and the latest attempt of each step, as templates see them.
    func scope(runID: String) throws -> Template.Scope

    /// The output of the latest attempt of `stepID`, as `scope(runID:)` has it in `steps[stepID].output` (null: the
    /// attempt has none), without the rest of the scope; nil when the step has no attempt.
    func latestOutput(runID: String, stepID: String) throws -> JSONValue?

    // MARK: Items of `for_each` steps
    //
    // A `for_each` step has one attempt among the steps (running until every item has ended, then finished with
    // the array of the items' outputs); each attempt of each item is recorded apart, by its own job id
    // (`runId/stepId[index]/attempt`).

    /// Records the items of a `for_each` step as first attempts, in order (items recorded before are left as they
    /// are): pending, but for the first `started.count`, recorded started with those inputs (as `startItem` would,
    /// each with the deadline given for it just before). Returns the indexes of those it wrote started: only their
    /// jobs may go out (an item recorded before keeps its state, and its deadline, and the job it had).
    @discardableResult
    func addItems(runID: String, stepID: String, items: [JSONValue], started: [JSONValue]) throws -> Set<Int>

    /// The step's pending items to start, lowest index first, as many as fit beside those that run (started, or
    /// waiting for a retry's backoff) under `concurrency`; whether more are pending, and whether any runs.
    func itemsToStart(runID: String, stepID: String, concurrency: Int) throws -> ItemSlots

    /// Starts a pending item attempt with its rendered input.
    func startItem(jobID: String, input: JSONValue) throws

    /// Adds a further attempt of an item, running (nothing when an attempt with its job id exists).
    func addItemAttempt(_ item: ItemAttemptRecord) throws

    /// The item attempt with this job id, or nil.
    func item(jobID: String) throws -> ItemAttemptRecord?

    /// Records the result of an item attempt that is pending (it could not be started) or running; an attempt
    /// that has ended is left as it is.
    func finishItem(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws

    /// Records the result of an item attempt that is running, and returns the attempt as recorded; nil (nothing
    /// recorded) when no attempt with this job id is running.
    func finishRunningItem(jobID: String, result: StepEvent, startedAt: Double?, finishedAt: Double?) throws
        -> ItemAttemptRecord?

    /// Records the step's items that have not started as skipped with `reason` (a `break` left the loop); returns
    /// how many.
    func skipPendingItems(runID: String, stepID: String, reason: String) throws -> Int

    /// Records the run's items that never started as failed with `error` (their run has ended).
    func abandonPendingItems(runID: String, error: String) throws

    /// The latest attempt of each item of the step, in item order, with their outputs.
    func latestItems(runID: String, stepID: String) throws -> [ItemAttemptRecord]

    // MARK: Artifacts

    /// Keeps a document an `artifact` step made (nothing when the run already has one from this job).
    func addArtifact(_ artifact: RunArtifact) throws

    /// Appends `entry` to the global artifact `name` (created by its first entry); returns how many entries it has
    /// then.
    func appendGlobalArtifact(name: String, entry: JSONValue, runID: String, stepID: String) throws -> Int

    /// The entries of the global artifact `name`, oldest first (empty when there is no such artifact).
    func globalArtifactEntries(name: String) throws -> [JSONValue]

    // MARK: Dead letters and events' payloads

    /// Keeps a dead letter read from `relay.dlq` at `partition`/`offset` there; false when the message at that
    /// position was kept before (a redelivery), even if it has been removed since.
    func recordDeadLetter(_ letter: DeadLetter, partition: Int, offset: Int64) throws -> Bool

    /// Removes a kept dead letter (redriven or discarded) and returns it; nil when there is no such dead letter.
    func removeDeadLetter(id: Int64) throws -> DeadLetterRecord?

    /// Keeps the events' payloads `seconds` from now on (0: not kept at all), and drops the payloads of up to
    /// `limit` events received before `now - seconds` (their ids stay, to deduplicate redeliveries); returns how
    /// many it dropped.
    func applyEventRetention(seconds: Double, now: Double, limit: Int) throws -> Int

    /// Writes what a speculation decided (`RunStore.speculation(runID:)`), in its order and with its arguments, when
    /// its run is as the speculation read it and this transaction has not read or written the run yet; else
    /// writes nothing and returns false (the caller then decides in the transaction).
    func apply(_ speculation: RunSpeculation) throws -> Bool

    /// Writes what a speculation of a new run decided (`RunStore.newRunSpeculation(runID:)`), in its order and with
    /// its arguments: true once written; false when `createRun` found the run existing (nothing after it is written,
    /// as a decision in the transaction would stop there); nil when it cannot be applied (nothing is written: the
    /// caller decides in the transaction).
    func applyNewRun(_ speculation: RunSpeculation) throws -> Bool?
}

extension RunStoreTransaction {
    /// `recordEvent`, its payload written here.
    public func recordEvent(_ event: TriggerEvent) throws -> Bool { try recordEvent(event, payload: nil) }

    public func apply(_ speculation: RunSpeculation) throws -> Bool { false }
    public func applyNewRun(_ speculation: RunSpeculation) throws -> Bool? { nil }

    /// Records the result of an attempt that no worker timed (the dispatcher's own: a deadline, the run's end).
    public func finishStep(jobID: String, result: StepEvent, startedAt: Double?) throws {
        try finishStep(jobID: jobID, result: result, startedAt: startedAt, finishedAt: nil)
    }

    /// Records the result of an item attempt that no worker timed.
    public func finishItem(jobID: String, result: StepEvent, startedAt: Double?) throws {
        try finishItem(jobID: jobID, result: result, startedAt: startedAt, finishedAt: nil)
    }

    /// Records the items of a `for_each` step as pending first attempts.
    public func addItems(runID: String, stepID: String, items: [JSONValue]) throws {
        try addItems(runID: runID, stepID: stepID, items: items, started: [])
    }

    /// Creates a running run of the workflow `workflow` (no version recorded) for `event`; false when a run with
    /// this id exists.
    public func createRun(id: String, workflow: String, event: TriggerEvent) throws -> Bool {
        try createRun(NewRun(id: id, workflow: workflow, version: nil, event: event))
    }

    /// Ends a running run without an output.
    @discardableResult
    public func finishRun(id: String, status: RunStatus, error: String?) throws -> Bool {
        try finishRun(id: id, status: status, error: error, output: nil)
    }
}

/// A `for_each` step's items to start next, and whether others are pending or run
/// (`RunStoreTransaction.itemsToStart`).
public struct ItemSlots: Sendable, Equatable {
    /// Pending items to start, lowest index first.
    public var next: [ItemAttemptRecord]
    /// Whether items are pending besides `next`.
    public var morePending: Bool
    /// Whether any item runs (started, or waiting for a retry's backoff), `next` aside.
    public var anyRunning: Bool

    public init(next: [ItemAttemptRecord], morePending: Bool, anyRunning: Bool) {
        self.next = next
        self.morePending = morePending
        self.anyRunning = anyRunning
    }
}

/// One attempt of one item of a `for_each` step as the dispatcher writes and reads it.
public struct ItemAttemptRecord: Sendable, Equatable {
    public var jobID: String
    public var runID: String
    public var stepID: String
    /// The item's position in the array.
    public var index: Int
    /// 1 for the first attempt.
    public var attempt: Int
    public var status: ItemStatus
    /// The item itself.
    public var item: JSONValue
    /// The rendered input (nil while pending).
    public var input: JSONValue?
    public var output: JSONValue?
    public var error: String?

    public init(
        jobID: String, runID: String, stepID: String, index: Int, attempt: Int, status: ItemStatus, item: JSONValue,
        input: JSONValue? = nil, output: JSONValue? = nil, error: String? = nil
    ) {
        self.jobID = jobID
        self.runID = runID
        self.stepID = stepID
        self.index = index
        self.attempt = attempt
        self.status = status
        self.item = item
        self.input = input
        self.output = output
        self.error = error
    }
}

/// Where one attempt of one item of a `for_each` step stands. Stored by its raw value.
public enum ItemStatus: String, Sendable, Equatable, CaseIterable {
    /// Not started yet: it waits for a free slot of the step's `concurrency`.
    case pending
    /// Sent to a worker (or waiting for a retry's backoff).
    case running
    case succeeded
    case failed
    /// Never run: a `break` left the loop before it started.
    case skipped

    /// The attempt has ended.
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .skipped }
}

/// One attempt of a step as the dispatcher writes and reads it.
public struct StepAttemptRecord: Sendable, Equatable {
    public var jobID: String
    public var runID: String
    public var stepID: String
    /// 0 for a skipped step, 1 for the first attempt.
    public var attempt: Int
    public var status: StepStatus
    /// The rendered input (nil when skipped or not renderable).
    public var input: JSONValue?
    public var error: String?

    public init(
        jobID: String, runID: String, stepID: String, attempt: Int, status: StepStatus, input: JSONValue? = nil,
        error: String? = nil
    ) {
        self.jobID = jobID
        self.runID = runID
        self.stepID = stepID
        self.attempt = attempt
        self.status = status
        self.input = input
        self.error = error
    }
}
