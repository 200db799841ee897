import Foundation
import Logging
import RelayCore
import RelayStore
import RelayTransport
import Synchronization

/// Turns events into workflow runs and results into what follows: every step whose needs have all ended (run in
/// parallel, or skipped), a retry after backoff, or the end of the run. Readiness is decided from what the run
/// store records (the latest attempt of each step), never from what this process remembers, so a redelivered
/// result or a restart between two decisions never starts a step twice. Every decision is recorded in the run store
/// in the same transaction that publishes its consequences and acknowledges its input, so a redelivered event never
/// starts a second run and a redelivered result never emits a second job.
///
/// Written against `Transport` (to consume events and results) and `RunStore` (to decide, publish and acknowledge
/// together); it knows neither SQLite nor Kafka.
///
/// Deadlines: every job sent has one in the store, its step's timeout plus `Configuration.deadlineGrace` after it
/// is published; a job whose result has not come by then is failed here (and the run goes on as for any failure).
///
/// Shutdown: cancellation stops intake; the message being handled finishes its transaction first.
public final class Dispatcher: Sendable {
    let bus: any Transport
    let store: any RunStore
    /// The current workflows (what new runs start with) and every version runs started with.
    let workflows: WorkflowRegistry
    let logger: Logger
    let metrics: PipelineMetrics
    let configuration: Configuration
    /// The deadlines' error texts by timeout and topic (a handful: formatting one per job was 1–1.6 % of the time a
    /// decision holds the SQLite connection).
    private let deadlineErrors = Mutex<[DeadlineKey: String]>([:])
    private struct DeadlineKey: Hashable {
        var timeoutMilliseconds: Int
        var topic: String
    }

    /// How the dispatcher judges jobs in flight.
    public struct Configuration: Sendable {
        /// How long past a step's timeout the dispatcher waits for a job's result before it fails the attempt:
        /// room for the job to wait in its topic, and for the worker to publish the result and the dispatcher to
        /// read it.
        public var deadlineGrace: Duration
        /// How often the dispatcher looks for retries whose backoff has passed and for deadlines that have passed.
        public var sweepInterval: Duration
        /// An event of a trigger instance no workflow is bound to (yet: the trigger host may have reloaded a new
        /// workflow before this dispatcher) is looked at again this many times, `unboundEventDelay` apart, before
        /// it is dead-lettered.
        public var unboundEventTries: Int
        public var unboundEventDelay: Duration
        /// How long the run store keeps each event's payload for `relay events replay` (0: not kept); past it the
        /// payload is dropped, the id kept. Applied by `EventRetention`, hourly, beside the dispatcher.
        public var eventRetention: Duration = .seconds(30 * 86_400)
        /// How often the dispatcher publishes what is left in its store's outbox: on PostgreSQL what another
        /// dispatcher sharing the store decided and died before it could publish (messages whose lease has run out),
        /// on SQLite what a command writing the same file (`relay dlq redrive`) could not publish.
        public var outboxSweepInterval: Duration = .seconds(2)
        /// Whether a worker's result on the embedded bus is first decided outside the transaction, from the run as the
        /// store keeps it (`RunStore.speculation(runID:)`), the transaction only writing it if the run has not changed
        /// since: the same decisions, with less work done while holding the database (off: every result is decided
        /// inside the transaction, as before; tests compare the two).
        public var decideAhead = true
        /// The fewest results in one batch that are decided ahead: a lone result's decision has nothing to overlap,
        /// and the checks would only add to its latency.
        public var decideAheadMinimum = 2

        public init(
            deadlineGrace: Duration = .seconds(30), sweepInterval: Duration = .milliseconds(100),
            unboundEventTries: Int = 3, unboundEventDelay: Duration = .seconds(2)
        ) {
            self.deadlineGrace = deadlineGrace
            self.sweepInterval = sweepInterval
            self.unboundEventTries = unboundEventTries
            self.unboundEventDelay = unboundEventDelay
        }
    }

    public init(
        bus: any Transport, store: any RunStore, workflows: WorkflowRegistry,
        metrics: PipelineMetrics = PipelineMetrics(),
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "relay.dispatcher")
    ) {
        self.bus = bus
        self.store = store
        self.workflows = workflows
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
    }

    /// The consumer group of its subscriptions (events, results, control).
    public static let group = "relay.dispatcher"

    /// Runs until cancelled.
    public func run() async throws {
        // What an earlier process decided and did not get to publish goes out before anything new is decided.
        try await store.publishPending()
        // Jobs in flight get their full time again: the dispatcher's downtime is not theirs.
        try await store.transaction(acknowledging: []) { tx in (try tx.restartDeadlines(now: RunTime.now()), []) }
        let events = try await bus.subscribe(topic: Topics.events, group: Self.group)
        let results = try await bus.subscribe(topic: Topics.results, group: Self.group)
        let control = try await bus.subscribe(topic: Topics.control, group: Self.group)
        let stopped: (any Error)?
        do {
            try await consumeAll(events: events, results: results, control: control)
            stopped = nil
        } catch {
            // (Cancellation, how a shutdown reaches the dispatcher, ends here too: what was decided is published all
            // the same, below.)
            stopped = error
        }
        await events.close()
        await results.close()
        await control.close()
        // What was decided is published (and its inputs acknowledged) before the dispatcher stops, and an outbox's
        // published rows deleted (else the next start would publish them again). After an error, as well as it can:
        // what it cannot publish stays in the outbox for the next start, and the error that stopped it is thrown.
        guard let stopped else { return try await store.flush() }
        try? await store.flush()
        throw stopped
    }

    /// Consumes the dispatcher's subscriptions and releases retries and deadlines, until one of them ends.
    private func consumeAll(
        events: any BusSubscription, results: any BusSubscription, control: any BusSubscription
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await self.consume(
                    events,
                    reading: { delivery, batch in
                        // (Not a lone event: `Configuration.decideAheadMinimum`, as in `decideLocally`.)
                        self.readEvent(delivery.message, decideAhead: self.decidesAhead(batch))
                    },
                    { tx, delivery, read in try self.applyEvent(delivery.message, read: read, in: tx) })
            }
            group.addTask {
                try await self.consume(
                    results, reading: { delivery, _ in Result { try Self.routedResult(delivery.message.value) } },
                    { tx, _, parsed in try self.applyResult(parsed, in: tx) })
            }
            group.addTask {
                try await self.consume(control) { tx, delivery in try self.applyControl(delivery, in: tx) }
            }
            group.addTask { try await self.releaseScheduledJobs() }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// What handling messages decided: messages to publish and metrics to move once committed.
    struct Outcome: Sendable {
        var messages: [BusMessage] = []
        /// The workflows of the runs started.
        var runsStarted: [StartedRun] = []
        var runsEnded: [EndedRun] = []
        /// The source topics of the messages dead-lettered.
        var deadLettered: [String] = []
        var stepsFailedByDeadline = 0
        var lateResults = 0

        mutating func add(_ other: Outcome) {
            messages += other.messages
            runsStarted += other.runsStarted
            runsEnded += other.runsEnded
            deadLettered += other.deadLettered
            stepsFailedByDeadline += other.stepsFailedByDeadline
            lateResults += other.lateResults
        }

        mutating func add(_ progress: [Progress]) {
            for item in progress { add(item) }
        }

        mutating func add(_ progress: Progress) {
            switch progress {
            case .job(let job): messages.append(job.message)
            case .message(let message): messages.append(message)
            case .started(let run): runsStarted.append(run)
            case .ended(let notice, let startedAt):
                messages.append(notice.message)
                runsEnded.append(EndedRun(workflow: notice.workflow, status: notice.status, startedAt: startedAt))
            }
        }
    }

    /// A run started: its workflow, and for a trigger's run whose first job went out in the same decision, the
    /// event's time (for `relay_event_to_first_job_seconds`).
    struct StartedRun: Sendable {
        var workflow: String
        var firstJobAfterEventAt: Double?
    }

    /// A run ended, and when it had started (nil: unknown).
    struct EndedRun: Sendable {
        var workflow: String
        var status: RunStatus
        var startedAt: Double?
    }

    /// What follows a decision in a run.
    enum Progress: Sendable {
        /// A step's job.
        case job(ActionJob)
        /// Another message to publish (a sub-workflow run's result for its parent's step, a scheduled request).
        case message(BusMessage)
        /// A run has started (a trigger's or a sub-workflow's).
        case started(StartedRun)
        /// The run has ended (recorded in the store); its notice, and when it had started.
        case ended(RunNotice, startedAt: Double?)
    }

    /// Handles whatever is waiting (up to 256 messages) in one transaction: their decisions, what they publish and
    /// their acknowledgements commit together. On Kafka the publishing and the acknowledgements follow the commit
    /// while the next batch is decided (`RunStore.pipelinedTransaction`).
    private func consume(
        _ subscription: any BusSubscription,
        _ apply: @escaping @Sendable (any RunStoreTransaction, Delivery) throws -> Outcome
    ) async throws {
        try await consume(subscription, reading: { _, _ in () }, { tx, delivery, _ in try apply(tx, delivery) })
    }

    /// `consume`, with what `read` makes of each message beforehand, outside the transaction (a result's JSON:
    /// reading a batch's messages does not hold the database, on which every decision waits); `read` is told how
    /// many messages the batch has.
    private func consume<Read: Sendable>(
        _ subscription: any BusSubscription, reading read: @escaping @Sendable (Delivery, Int) -> Read,
        _ apply: @escaping @Sendable (any RunStoreTransaction, Delivery, Read) throws -> Outcome
    ) async throws {
        while true {
            let batch = try await subscription.nextBatch(maximum: 256)
            if batch.isEmpty { return }
            let reads = batch.map { read($0, batch.count) }
            let total = try await store.pipelinedTransaction(acknowledging: batch) { tx -> (Outcome, [BusMessage]) in
                var total = Outcome()
                for (delivery, read) in zip(batch, reads) {
                    do {
                        total.add(try apply(tx, delivery, read))
                    } catch let poison as PoisonMessage {
                        total.add(
                            Outcome(
                                messages: [self.deadLetter(delivery, reason: poison.reason)],
                                deadLettered: [delivery.message.topic]))
                    }
                }
                return (total, total.messages)
            }
            count(total)
        }
    }

    /// Decides what a worker or a trigger host of this process would publish for this dispatcher (their
    /// `MessageSink`), when the run store shares the bus's transactions (`RunStore.sharesTransactions(with:)`: the
    /// embedded bus): a job's result is decided in the transaction that acknowledges the job, an event in the
    /// transaction that would have published it, so a step (and a run's start) costs one transaction and one
    /// hand-over fewer than through `relay.results` (`relay.events`). The outcome is the same as the consumers'
    /// for the same messages (a result handed over with its values, `SinkMessage.result`, is decided from the values
    /// its message would be read into), and so is what survives a crash: before the commit, a job is delivered again
    /// and run again, as when its result had not been committed, and an event was not accepted (the trigger, or the
    /// webhook's client, is told so). A message this cannot decide (a poison message) is published to its topic
    /// instead, where the consumer dead-letters it as for any other; any other message (a job the worker could not
    /// read, dead-lettered) is published as it is.
    public func decideLocally(_ messages: [SinkMessage], acknowledging inputs: [Delivery]) async throws {
        // (By index throughout: a message copied out of the array, by a map's closure or a zip, is a retain and a
        // release of each of its fields, and a result has some twenty.)
        var results: [Result<(StepEvent, JobRoute), any Error>?] = []
        results.reserveCapacity(messages.count)
        for index in messages.indices {
            switch messages[index] {
            case .result(let event, let route, _): results.append(.success((event, route)))
            case .message(let message):
                results.append(message.topic == Topics.results ? Result { try Self.routedResult(message.value) } : nil)
            }
        }
        // Each result decided first from the run as the store keeps it, outside the transaction, while another
        // decision may hold the database; the transaction then writes it if the run has not changed since. (Not a
        // lone result: `Configuration.decideAheadMinimum`.)
        let ahead = decidesAhead(messages.count)
        var runs: [String: RunSpeculation?] = [:]
        var speculated: [(Outcome, RunSpeculation)?] = []
        speculated.reserveCapacity(messages.count)
        var events: [ReadEvent?] = []
        events.reserveCapacity(messages.count)
        for index in messages.indices {
            speculated.append(ahead ? results[index].flatMap { speculate($0, runs: &runs) } : nil)
            if case .message(let message) = messages[index], message.topic == Topics.events {
                events.append(readEvent(message, decideAhead: ahead))
            } else {
                events.append(nil)
            }
        }
        let total = try await store.transaction(acknowledging: inputs) {
            [results, speculated, events] tx -> (Outcome, [BusMessage]) in
            var total = Outcome()
            // (A run's speculation serves all its results in the batch: applied once, at the first.)
            var applied: [ObjectIdentifier: Bool] = [:]
            for index in messages.indices {
                if let speculation = speculated[index]?.1 {
                    let id = ObjectIdentifier(speculation)
                    if applied[id] == nil { applied[id] = try tx.apply(speculation) }
                    if applied[id] == true {
                        total.add(speculated[index]!.0)
                        continue
                    }
                }
                do {
                    if let parsed = results[index] {
                        total.add(try self.applyResult(parsed, in: tx))
                    } else if case .message(let message) = messages[index], message.topic == Topics.events {
                        total.add(try self.applyEvent(message, read: events[index], in: tx))
                    } else {
                        total.messages.append(messages[index].busMessage)
                    }
                } catch is PoisonMessage {
                    total.messages.append(messages[index].busMessage)
                }
            }
            return (total, total.messages)
        }
        count(total)
    }

    /// `decideLocally` for messages as they would be published.
    public func decideLocally(_ messages: [BusMessage], acknowledging inputs: [Delivery]) async throws {
        try await decideLocally(messages.map(SinkMessage.message), acknowledging: inputs)
    }

    /// Whether a batch of `count` messages is decided ahead (`Configuration.decideAhead`, `decideAheadMinimum`).
    func decidesAhead(_ count: Int) -> Bool {
        configuration.decideAhead && count >= configuration.decideAheadMinimum
    }

    /// A result decided over a speculation of its run (`RunStore.speculation(runID:)`), outside any transaction: the
    /// outcome and the speculation to apply, or nil when the store keeps nothing of the run or the decision needed
    /// what a speculation cannot answer (it is then made in the transaction). The results of one run in a batch (a
    /// `for_each` step's items) are decided one after the other over the same speculation, `runs` (nil: none), each
    /// from what the ones before decided; it is applied once, with all of them, or none is.
    private func speculate(_ parsed: Result<(StepEvent, JobRoute), any Error>, runs: inout [String: RunSpeculation?])
        -> (Outcome, RunSpeculation)?
    {
        guard case .success(let (_, route)) = parsed else { return nil }
        let speculation: RunSpeculation
        if let known = runs[route.runID] {
            guard let known, known.isUsable else { return nil }
            speculation = known
        } else {
            let fresh = store.speculation(runID: route.runID)
            runs[route.runID] = .some(fresh)
            guard let fresh else { return nil }
            speculation = fresh
        }
        do {
            let outcome = try applyResult(parsed, in: speculation)
            speculation.results += 1
            return speculation.isUsable ? (outcome, speculation) : nil
        } catch {
            // (A decision that failed may have decided some of its writes: none of the run's is applied.)
            speculation.giveUp("decide a result: \(error)")
            return nil
        }
    }

    /// Moves the metrics of a committed outcome (its jobs are published, or about to be: durations end now).
    private func count(_ outcome: Outcome) {
        let now = RunTime.now()
        for run in outcome.runsStarted {
            metrics.runStarted(workflow: run.workflow)
            // (An event's time is the trigger host's clock: one outside Unix time's sane range is passed over.)
            if let eventTime = run.firstJobAfterEventAt, (0...1e11).contains(eventTime) {
                metrics.firstJobPublished(workflow: run.workflow, seconds: now - eventTime)
            }
        }
        for run in outcome.runsEnded {
            metrics.runFinished(workflow: run.workflow, status: run.status, seconds: run.startedAt.map { now - $0 })
        }
        for topic in outcome.deadLettered { metrics.deadLettered(sourceTopic: topic) }
        if outcome.stepsFailedByDeadline > 0 { metrics.stepsFailedByDeadline(outcome.stepsFailedByDeadline) }
        if outcome.lateResults > 0 { metrics.lateResults(outcome.lateResults) }
    }

    /// The header that counts how often an event no workflow was bound to has been looked at.
    static let unboundTries = "relay.unbound.tries"

    /// A message the dispatcher cannot handle: it goes to the dead-letter topic with the reason.
    struct PoisonMessage: Error { var reason: String }

    private func deadLetter(_ delivery: Delivery, reason: String) -> BusMessage {
        logger.error(
            "dead-lettered a message: \(reason)",
            metadata: ["kafka.topic": "\(delivery.message.topic)", "kafka.offset": "\(delivery.offset)"])
        return DeadLetter(delivery, reason: reason).message
    }

    // MARK: - Events

    /// The id of the run of `workflow` that `event` starts: the same for a redelivered event (and known before the
    /// event is published: `ManualRun`, the dead-letter desk).
    ///
    /// `run-` + the event's time in microseconds (16 hex digits) + a hash of its id and the workflow (16 hex
    /// digits): ids in the order the events came, so that the run store's indexes keyed by run (runs, attempts by job
    /// id and by run) take each new run at their end instead of on a random page (measured: a burst wrote 57 % fewer
    /// bytes, docs/benchmarks.md). An event without a usable time (absent, negative, later than year 5000) gets
    /// `run-` + the hash alone, as every run did before.
    public static func runID(of event: TriggerEvent, workflow: String) -> String {
        let hash = StableHash.fnv1a(event.id + "/" + workflow)
        guard let time = event.time, time >= 0, time < 95_617_584_000 else { return "run-" + String(hash, radix: 16) }
        // (Written in place: one string made, not five.)
        return String(unsafeUninitializedCapacity: 36) { text in
            for (index, byte) in "run-".utf8.enumerated() { text[index] = byte }
            hex16(UInt64(time * 1_000_000), into: text, at: 4)
            hex16(hash, into: text, at: 20)
            return 36
        }
    }

    /// `value` in 16 lower-case hexadecimal digits, written into `text` from `start`.
    private static func hex16(_ value: UInt64, into text: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        for index in 0..<16 {
            let digit = UInt8(truncatingIfNeeded: value >> (4 * (15 - index))) & 0xF
            text[start + index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
        }
    }

    /// The workflows an event starts a run of: those bound to its trigger instance, and the one a manual run names.
    public static func workflows(for event: TriggerEvent, in registry: WorkflowRegistry) -> [WorkflowVersion] {
        registry.bound(to: event.instance)
            + (ManualRun.workflow(ofInstance: event.instance).flatMap(registry.named).map { [$0] } ?? [])
    }

    /// An event read from its message outside the transaction, with the run each workflow bound to it starts
    /// decided ahead (`RunStore.newRunSpeculation(runID:)`) where that could be.
    struct ReadEvent: Sendable {
        var event: Result<TriggerEvent, PoisonMessage>
        /// The event as the run store keeps it (`RunStoreTransaction.recordEvent`'s payload), written here.
        var payload: String?
        /// By workflow version hash (which names the workflow, and so, with the event, the run): what starting the
        /// run decided, and the speculation to apply.
        var ahead: [String: (progress: [Progress], speculation: RunSpeculation)] = [:]
    }

    /// Reads an event and, when `decideAhead`, decides ahead the start of each run it starts, from the run as it
    /// would be if it did not exist yet: the transaction then only records the event and writes what was decided,
    /// when the run is new there (`applyEvent`).
    func readEvent(_ message: BusMessage, decideAhead: Bool) -> ReadEvent {
        let event: TriggerEvent
        do {
            event = try TriggerEvent(bytes: message.value)
        } catch {
            return ReadEvent(
                event: .failure(PoisonMessage(reason: "not an event: \(Self.describe(error, in: message.value))")))
        }
        var read = ReadEvent(event: .success(event), payload: JSONWriter.compact.string(event.json))
        guard decideAhead else { return read }
        for version in Self.workflows(for: event, in: workflows) {
            let id = Self.runID(of: event, workflow: version.workflow.name)
            guard let speculation = store.newRunSpeculation(runID: id),
                let progress = try? startRun(id: id, version: version, event: event, parent: nil, in: speculation),
                speculation.isUsable
            else { continue }
            read.ahead[version.hash] = (progress, speculation)
        }
        return read
    }

    func applyEvent(_ message: BusMessage, read: ReadEvent? = nil, in tx: any RunStoreTransaction) throws -> Outcome {
        let read = read ?? readEvent(message, decideAhead: false)
        let event = try read.event.get()
        let bound = Self.workflows(for: event, in: workflows)
        guard !bound.isEmpty else {
            // On Kafka the trigger host may have loaded a new workflow before this dispatcher has: the event is
            // looked at again a few times, a reload interval or two apart, before it is dead-lettered.
            let tries = Int(message.headers[Self.unboundTries] ?? "") ?? 0
            guard tries < configuration.unboundEventTries else {
                throw PoisonMessage(reason: "no workflow is bound to trigger instance \(event.instance)")
            }
            var again = message
            again.headers[Self.unboundTries] = String(tries + 1)
            try tx.schedule(
                again, jobID: "event:\(event.id):\(tries + 1)",
                dueAt: RunTime.now() + configuration.unboundEventDelay / .seconds(1))
            logger.info(
                "no workflow is bound to trigger instance \(event.instance) (yet); the event is looked at again",
                metadata: ["event.id": "\(event.id)", "tries": "\(tries + 1)"])
            return Outcome()
        }
        var outcome = Outcome()
        guard try tx.recordEvent(event, payload: read.payload) else { return outcome }
        for version in bound {
            // Decided ahead over the same version: written if the run is new here (else nothing, as below).
            if let ahead = read.ahead[version.hash], let created = try tx.applyNewRun(ahead.speculation) {
                if created { outcome.add(ahead.progress) }
                continue
            }
            let id = Self.runID(of: event, workflow: version.workflow.name)
            outcome.add(try startRun(id: id, version: version, event: event, parent: nil, in: tx))
        }
        return outcome
    }

    /// A decoding error, with the message quoted when the error does not already quote it.
    static func describe(_ error: MessageDecodingError, in bytes: [UInt8]) -> String {
        error.field.isEmpty ? "\(error)" : "\(error) in \(MessageText.excerpt(bytes))"
    }

    // MARK: - Results

    /// A result message read as a step event, or the reason it is not one.
    static func result(_ bytes: [UInt8]) throws -> StepEvent {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes: bytes)
        } catch {
            throw PoisonMessage(reason: "not a result: \(error) in \(MessageText.excerpt(bytes))")
        }
        do {
            let message = try V1Message(json: json)
            guard message.kind == .actionEvent else {
                throw PoisonMessage(
                    reason: "not a result: expected a v1 action_event, found a \(message.kind.rawValue)")
            }
            return try StepEvent(body: message.body)
        } catch let error as V1ProtocolError {
            throw PoisonMessage(reason: "not a result: \(error) in \(MessageText.excerpt(bytes))")
        }
    }

    /// A worker's result and the job it is for, read from its message (`result`, then its `meta`).
    static func routedResult(_ bytes: [UInt8]) throws -> (StepEvent, JobRoute) {
        let event = try result(bytes)
        do {
            return (event, try JobRoute(meta: event.meta))
        } catch {
            throw PoisonMessage(reason: "not a result of Relay's: \(Self.describe(error, in: bytes))")
        }
    }

    /// Decides on a worker's result, read from its message (`Self.routedResult`) beforehand, outside the
    /// transaction, where reading a batch's results does not hold the database.
    func applyResult(_ parsed: Result<(StepEvent, JobRoute), any Error>, in tx: any RunStoreTransaction) throws
        -> Outcome
    {
        let (event, route) = try parsed.get()
        guard let run = try tx.runRecord(id: route.runID) else {
            throw PoisonMessage(
                reason: "result of job \(route.jobID): no run \(route.runID) in the run store (the run is unknown here)"
            )
        }
        let workflow = try self.workflow(of: run, in: tx)
        // From the message: a time within Unix time's sane range, or none (it feeds durations in `relay runs`).
        let startedAt = route.startedAt.flatMap { (0...1e11).contains($0) ? $0 : nil }
        // Its end on the same clock, when it is sane and not before the start (else the dispatcher's own time).
        let finishedAt = route.finishedAt.flatMap { $0 >= (startedAt ?? 0) && $0 <= 1e11 ? $0 : nil }
        if route.item != nil {
            return try applyItemResult(
                event, jobID: route.jobID, startedAt: startedAt, finishedAt: finishedAt, leftLoopAt: route.leftLoopAt,
                workflow: workflow, in: tx)
        }
        guard let step = try tx.step(jobID: route.jobID, runID: route.runID) else {
            throw PoisonMessage(
                reason: "result of job \(route.jobID): no such job in the run store (the run is unknown here)")
        }
        // The run's status was read above, in this transaction, and recording a step's result does not change it.
        return try record(
            event, of: step, workflow: workflow, startedAt: startedAt, finishedAt: finishedAt,
            runStatus: step.runID == run.id ? run.status : nil, in: tx)
    }

    /// Records the result of an attempt (a worker's, or the failure its deadline gave it) and decides what follows.
    /// `runStatus`: the status of the step's run, when the caller has read it in this transaction (else it is read).
    func record(
        _ event: StepEvent, of step: StepAttemptRecord, workflow: Workflow, startedAt: Double?,
        finishedAt: Double? = nil, runStatus: RunStatus? = nil,
        in tx: any RunStoreTransaction
    ) throws -> Outcome {
        guard step.status == .running else {
            // A result after the attempt's deadline failed it is recorded beside the attempt and changes nothing; a
            // result already recorded (redelivered) changes nothing either.
            guard try tx.recordLateResult(jobID: step.jobID, result: event) else { return Outcome() }
            logger.info(
                "a result came after its job's deadline had failed the attempt; it changes nothing",
                metadata: ["run.id": "\(step.runID)", "step.id": "\(step.stepID)", "job.id": "\(step.jobID)"])
            return Outcome(lateResults: 1)
        }
        try tx.finishStep(jobID: step.jobID, result: event, startedAt: startedAt, finishedAt: finishedAt)
        // A result for a run that has ended (another branch failed it) is recorded and starts nothing.
        guard try (runStatus ?? tx.runStatus(id: step.runID)) == .running else { return Outcome() }
        guard let index = workflow.index(of: step.stepID) else { return Outcome() }
        let definition = workflow.steps[index]
        var outcome = Outcome()
        if event.status == .ok {
            outcome.add(try advance(runID: step.runID, workflow: workflow, in: tx))
        } else if step.attempt < definition.retry.attempts, definition.workflow != nil,
            let input = try? Self.input(
                of: definition, scope: self.scope(runID: step.runID, workflow: workflow, in: tx))
        {
            // A sub-workflow step's retry: a new child run once the backoff has passed.
            let retry = StepAttemptRecord(
                jobID: JobRoute.jobID(runID: step.runID, stepID: definition.id, attempt: step.attempt + 1),
                runID: step.runID, stepID: definition.id, attempt: step.attempt + 1, status: .running, input: input)
            try tx.addStep(retry)
            try scheduleChildRetry(jobID: retry.jobID, runID: step.runID, of: definition, after: step.attempt, in: tx)
        } else if step.attempt < definition.retry.attempts, definition.workflow == nil,
            let job = try? self.job(
                runID: step.runID, workflow: workflow, step: definition, attempt: step.attempt + 1,
                scope: self.scope(runID: step.runID, workflow: workflow, in: tx))
        {
            // (A retry renders the input as the first attempt did; should that fail now, the step has failed.)
            try tx.addStep(job.attemptRecord)
            try scheduleRetry(job, of: definition, after: step.attempt, in: tx)
        } else if definition.continueOnFailure {
            // A failed step that may continue has ended like any other.
            outcome.add(try advance(runID: step.runID, workflow: workflow, in: tx))
        } else {
            outcome.add(
                try end(
                    runID: step.runID, workflow: workflow, status: .failed,
                    error: "step \(definition.id) failed: \(event.error ?? "")", in: tx))
        }
        return outcome
    }

    /// Records the end of a run: its notice; with it, for a run that did not succeed, the cancellation of its
    /// sub-workflows' runs, and for a sub-workflow's run, its result for the parent's step. Nothing when the run
    /// had already ended (it is never ended, nor announced, twice). `workflow` is nil for a run whose version cannot
    /// be read: it still ends (cancel, timeout), without the clean-up its steps' definitions would allow.
    ///
    /// `leftLoopAt`: the `break` step that ended the run; when the run is an item of a parent's `for_each`, the
    /// parent's loop starts no further items.
    func end(
        runID: String, workflow: Workflow?, status: RunStatus, error: String?, leftLoopAt: String? = nil,
        in tx: any RunStoreTransaction
    ) throws -> [Progress] {
        var status = status
        var error = error
        var output: JSONValue?
        if status == .succeeded, let workflow {
            do {
                output = try runOutput(runID: runID, workflow: workflow, in: tx)
            } catch let problem as TemplateError where leftLoopAt != nil {
                // A run a break ended may read into the output of a step it never reached (which reads as null,
                // see runOutput): it returns null, and still succeeds (leaving the loop is what it was written to do).
                logger.info(
                    "the output of a run left at \(leftLoopAt ?? "") is null: \(problem.message)",
                    metadata: ["run.id": "\(runID)"])
                output = .null
            } catch let problem as TemplateError {
                status = .failed
                error = "output could not be rendered: \(problem.message)"
            }
        }
        guard try tx.finishRun(id: runID, status: status, error: error, output: output) else { return [] }
        // Retries still waiting for their backoff never go out: their attempts are recorded as not run. (Only a
        // step with more than one attempt has retries; a run whose workflow cannot be read is cleaned up blind.)
        var dropped: [String] = []
        if workflow?.steps.contains(where: { $0.retry.attempts > 1 }) ?? true {
            dropped = try tx.dropScheduledJobs(runID: runID, error: Self.notRun)
            // (An item's retry among them: its attempt is recorded the same way.)
            for jobID in dropped {
                try tx.finishItem(jobID: jobID, result: .failure(Self.notRun), startedAt: nil)
            }
        }
        // A for_each step still running ends with its run: its items that never started are recorded as not run
        // (items in flight record their results when they come, and start nothing).
        if workflow?.steps.contains(where: { $0.forEach != nil }) ?? true {
            try tx.abandonPendingItems(runID: runID, error: Self.notRun)
        }
        let steps = workflow?.steps ?? []
        for step in steps where step.forEach != nil {
            let jobID = JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1)
            if try tx.step(jobID: jobID)?.status == .running {
                try tx.finishStep(jobID: jobID, result: .failure(Self.notFinished), startedAt: nil)
            }
        }
        // A sub-workflow step's attempt (or item) still running ends with its run too: its child is cancelled
        // below, and the child's result, or a retry's start already on its way, then finds it ended.
        // So does a decision waiting for its answer.
        let subWorkflowSteps = steps.filter { $0.workflow != nil || $0.builtin?.key == "decision" }
        // (Read once for all of them, and only when the workflow has such steps.)
        let latest = subWorkflowSteps.isEmpty ? [:] : try tx.latestSteps(runID: runID)
        for step in subWorkflowSteps {
            if step.forEach != nil {
                for item in try tx.latestItems(runID: runID, stepID: step.id) where item.status == .running {
                    try tx.finishItem(jobID: item.jobID, result: .failure(Self.notFinished), startedAt: nil)
                }
            } else if let attempt = latest[step.id], attempt.status == .running {
                try tx.finishStep(jobID: attempt.jobID, result: .failure(Self.notFinished), startedAt: nil)
            }
        }
        if !dropped.isEmpty {
            logger.info(
                "dropped retries waiting for their backoff: the run has ended",
                metadata: ["run.id": "\(runID)", "job.ids": "\(dropped.joined(separator: ", "))"])
        }
        let run = try tx.runRecord(id: runID)
        let name = workflow?.name ?? run?.workflow ?? ""
        var progress: [Progress] = [
            .ended(RunNotice(runID: runID, workflow: name, status: status), startedAt: run?.startedAt)
        ]
        if status != .succeeded {
            progress += try cancelChildren(of: runID, reason: "its parent run \(runID) \(status.rawValue)", in: tx)
        } else if let leftLoopAt {
            // Sub-workflow runs still running when a break ends the run are not waited for: cancelled.
            progress += try cancelChildren(of: runID, reason: "its parent run \(runID) left at \(leftLoopAt)", in: tx)
        }
        if let run, let parent = run.parent {
            progress.append(
                .message(
                    try childResult(
                        run: run, parent: parent, status: status, error: error, output: output, leftLoopAt: leftLoopAt,
                        in: tx)))
        }
        return progress
    }

    /// Starts every step of a running run whose needs have all ended and that has no attempt yet: its job, or its
    /// record as skipped (its `when` does not hold, or every step it explicitly needs was skipped) or as failed (its
    /// input cannot be rendered; it never reaches a worker). Skips and failures that may continue end a step at
    /// once, so this goes on until nothing more is ready. The run succeeds when every step has ended; it fails when
    /// a step that fails it cannot be rendered.
    ///
    /// Decided from the store: a step with an attempt has been started (or decided) by an earlier decision, in this
    /// batch or before a crash, and is never started again.
    func advance(runID: String, workflow: Workflow, in tx: any RunStoreTransaction) throws -> [Progress] {
        var latest = try tx.latestSteps(runID: runID)
        // A step's latest status read where `latest` keeps its attempt (`latest[id]?.status` copies the whole
        // attempt out first: a retain of each of its strings and its input, for one byte).
        func status(_ id: String) -> StepStatus? { latest.index(forKey: id).map { latest.values[$0].status } }
        var progress: [Progress] = []
        var decided = true
        while decided {
            decided = false
            // (Steps read in place until one is ready: a copy of a step is a retain of each of its fields, and most
            // steps of a pass have an attempt already or wait for one; an attempt is looked for by its index, not
            // copied out to be compared with nil.)
            for index in workflow.steps.indices where latest.index(forKey: workflow.steps[index].id) == nil {
                guard workflow.needsHaveEnded(at: index, { status($0)?.isFinished == true }) else { continue }
                let step = workflow.steps[index]
                let needs = workflow.needs(at: index)
                let record: StepAttemptRecord
                if !needs.isEmpty, needs.allSatisfy({ status($0) == .skipped }),
                    let filter = needs.lazy.compactMap({ Self.stoppingFilter(latest[$0], workflow: workflow) }).first
                {
                    // A filter that did not pass stops the path it is on, written needs or not.
                    record = skipped(runID: runID, step: step, reason: "\(Self.stoppedBy) \(filter) (it did not pass)")
                } else if step.needs?.isEmpty == false, needs.allSatisfy({ status($0) == .skipped }) {
                    // Without `needs` a step follows the one before it as it always did: only written needs branch.
                    record = skipped(
                        runID: runID, step: step,
                        reason: "no path reached it: every step it needs was skipped (\(needs.joined(separator: ", ")))"
                    )
                } else if let condition = step.when,
                    let unmet = try self.unmet(condition, scope: self.scope(runID: runID, workflow: workflow, in: tx))
                {
                    guard let problem = unmet.problem else {
                        record = skipped(
                            runID: runID, step: step, reason: "condition not met: \(condition.description)")
                        try tx.addStep(record)
                        latest[step.id] = record
                        decided = true
                        continue
                    }
                    // A condition that cannot be decided fails the step, as an input that cannot be rendered does.
                    let outcome = try fail(
                        StepAttemptRecord(
                            jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1), runID: runID,
                            stepID: step.id, attempt: 1, status: .failed,
                            error: "condition could not be decided: \(problem)"),
                        step: step, workflow: workflow, in: tx)
                    progress += outcome.progress
                    if outcome.endedRun { return progress }
                    latest[step.id] = outcome.record
                    decided = true
                    continue
                } else if let builtin = step.builtin {
                    let outcome = try decide(
                        builtin, step: step, runID: runID, workflow: workflow, attempt: 1, in: tx)
                    progress += outcome.progress
                    if outcome.endedRun { return progress }
                    latest[step.id] = outcome.record
                    decided = true
                    continue
                } else if step.forEach != nil {
                    // Records the step and its items itself; it ends at once when there is nothing to run.
                    let started = try startForEach(runID: runID, workflow: workflow, step: step, in: tx)
                    progress += started.progress
                    switch started.state {
                    case .running:
                        latest[step.id] = StepAttemptRecord(
                            jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1), runID: runID,
                            stepID: step.id, attempt: 1, status: .running)
                    case .ended(let record):
                        latest[step.id] = record
                        decided = true
                    case .failedRun: return progress
                    }
                    continue
                } else {
                    do {
                        if step.workflow != nil {
                            // A sub-workflow: its child run starts now; the step ends when the child does.
                            let input = try Self.input(
                                of: step, scope: self.scope(runID: runID, workflow: workflow, in: tx))
                            record = StepAttemptRecord(
                                jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1), runID: runID,
                                stepID: step.id, attempt: 1, status: .running, input: input)
                            try tx.addStep(record)
                            latest[step.id] = record
                            decided = true
                            progress += try startChild(
                                parent: RunParent(runID: runID, stepID: step.id, jobID: record.jobID), step: step,
                                input: input, in: tx)
                            continue
                        }
                        let job = try job(
                            runID: runID, workflow: workflow, step: step, attempt: 1,
                            scope: self.scope(runID: runID, workflow: workflow, in: tx))
                        record = job.attemptRecord
                        try tx.addDeadline(deadline(for: job), startingAt: RunTime.now())
                        // (Its last use: moved into the progress, not copied.)
                        progress.append(.job(consume job))
                    } catch let error as TemplateError {
                        try tx.addStep(
                            StepAttemptRecord(
                                jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1), runID: runID,
                                stepID: step.id, attempt: 1, status: .failed,
                                error: "input could not be rendered: \(error.message)"))
                        if !step.continueOnFailure {
                            // Jobs decided before this in the same decision still go out; their results start nothing.
                            progress += try end(
                                runID: runID, workflow: workflow, status: .failed,
                                error: "step \(step.id): input could not be rendered: \(error.message)", in: tx)
                            return progress
                        }
                        latest[step.id] = StepAttemptRecord(
                            jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1), runID: runID,
                            stepID: step.id, attempt: 1, status: .failed)
                        decided = true
                        continue
                    }
                }
                try tx.addStep(record)
                latest[step.id] = record
                decided = true
            }
        }
        if workflow.steps.indices.allSatisfy({ status(workflow.steps[$0].id)?.isFinished == true }) {
            progress += try end(runID: runID, workflow: workflow, status: .succeeded, error: nil, in: tx)
        }
        return progress
    }

    /// Why a condition is not met.
    struct Unmet {
        /// Why it cannot be decided; nil when it does not hold.
        var problem: String?
    }

    /// Nil when `condition` holds; else why not: it does not hold, or it cannot be decided.
    func unmet(_ condition: Condition, scope: Template.Scope) -> Unmet? {
        do {
            return try condition.decide(in: scope) ? nil : Unmet(problem: nil)
        } catch {
            return Unmet(problem: error.message)
        }
    }

    /// The start of the reason a step is skipped on the path after a filter that did not pass.
    static let stoppedBy = "stopped by filter"

    /// The filter that stopped the path `attempt` is on (a filter skipped, or a step skipped after one), or nil.
    static func stoppingFilter(_ attempt: StepAttemptRecord?, workflow: Workflow) -> String? {
        guard let attempt, attempt.status == .skipped else { return nil }
        if workflow.step(attempt.stepID)?.isFilter == true { return attempt.stepID }
        guard let reason = attempt.error, reason.hasPrefix(stoppedBy + " ") else { return nil }
        return reason.dropFirst(stoppedBy.count + 1).split(separator: " ").first.map(String.init)
    }

    private func skipped(runID: String, step: WorkflowStep, reason: String) -> StepAttemptRecord {
        StepAttemptRecord(
            jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 0), runID: runID, stepID: step.id,
            attempt: 0, status: .skipped, error: reason)
    }

    /// A step's input rendered over `scope`, or why it cannot be: a template that does not render, or a value
    /// Relay cannot carry (the same for a job, a sub-workflow's trigger event, and every retry or resume of either).
    static func input(of step: WorkflowStep, scope: Template.Scope) throws(TemplateError) -> JSONValue {
        let input = try Template.render(step.input, scope: scope)
        if let problem = input.payloadProblem(at: "input") { throw TemplateError(message: problem) }
        return input
    }

    /// The job for one attempt of a step: a v1 action_start whose meta carries Relay's routing data.
    /// (`item`: the position of the item of a `for_each` step, whose `item` and `index` are in `scope`.)
    func job(
        runID: String, workflow: Workflow, step: WorkflowStep, attempt: Int, scope: Template.Scope, item: Int? = nil
    ) throws -> ActionJob {
        let input = try Self.input(of: step, scope: scope)
        let timeout = step.timeout.components
        let route = JobRoute(
            jobID: item.map { JobRoute.jobID(runID: runID, stepID: step.id, item: $0, attempt: attempt) }
                ?? JobRoute.jobID(runID: runID, stepID: step.id, attempt: attempt), runID: runID, stepID: step.id,
            attempt: attempt, workflow: workflow.name,
            timeoutMilliseconds: Int(timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000),
            connection: step.connection, item: item)
        let start = StepStart(step: .action(step.action), input: input, connection: [:], meta: route.meta)
        // Kept with the message: a worker of this process takes the job as it is here (`Worker.job(_:)`), as its
        // bytes read (`KeptJobTests`).
        return ActionJob(
            route: route, input: input,
            message: BusMessage(
                topic: Topics.jobs(step.plugin), key: runID, json: start.message.json,
                keeping: Worker.ReceivedJob(start: start, action: step.action, route: route)))
    }

    /// Publishes retries whose backoff has passed, and fails the attempts whose deadline has passed without a
    /// result (deciding what follows as for any failure), each batch in one transaction.
    /// Also publishes, every `outboxSweepInterval`, what is left in the store's outbox (`RunStore.publishPending`:
    /// a dispatcher sharing the store that died, a command that could not publish).
    private func releaseScheduledJobs() async throws {
        var lastSweep = ContinuousClock.now
        while !Task.isCancelled {
            if ContinuousClock.now - lastSweep >= configuration.outboxSweepInterval {
                try await store.publishPending()
                lastSweep = ContinuousClock.now
            }
            let (handled, outcome) = try await store.transaction(acknowledging: []) {
                tx -> ((Int, Outcome), [BusMessage]) in
                let now = RunTime.now()
                let due = try tx.takeDueJobs(now: now, limit: 500)
                let overdue = try tx.takeOverdueJobs(now: now, limit: 500)
                let late = try tx.overdueRuns(now: now, limit: 500)
                var outcome = Outcome(messages: due)
                for deadline in overdue { outcome.add(try self.fail(deadline, in: tx)) }
                for run in late { outcome.add(try self.timeOut(run, in: tx)) }
                return ((due.count + overdue.count + late.count, outcome), outcome.messages)
            }
            count(outcome)
            if handled == 0 { try await Task.sleep(for: configuration.sweepInterval) }
        }
    }

    /// Keeps a retry (of a step or an item, recorded by the caller) until its backoff after `attempt` has passed;
    /// its deadline runs from when it is published.
    func scheduleRetry(_ job: ActionJob, of step: WorkflowStep, after attempt: Int, in tx: any RunStoreTransaction)
        throws
    {
        let delay = step.retry.delay(after: attempt) / .seconds(1)
        try tx.schedule(job.message, jobID: job.route.jobID, dueAt: RunTime.now() + delay)
        try tx.addDeadline(deadline(for: job), startingAt: nil)
    }

    /// The deadline of a job just decided: its step's timeout plus the grace period after it is published.
    func deadline(for job: ActionJob) -> JobDeadline {
        let timeout = Duration.milliseconds(job.route.timeoutMilliseconds)
        let seconds = (timeout + configuration.deadlineGrace) / .seconds(1)
        let key = DeadlineKey(timeoutMilliseconds: job.route.timeoutMilliseconds, topic: job.message.topic)
        let error = deadlineErrors.withLock { errors in
            if let text = errors[key] { return text }
            let text =
                "no result within \(Self.text(timeout)) + \(Self.text(configuration.deadlineGrace)) grace: "
                + "no worker took the job, or it was lost (\(job.message.topic))"
            // (Bounded: timeouts and topics come from the workflows loaded, which reloads may change.)
            if errors.count >= 1024 { errors.removeAll() }
            errors[key] = text
            return text
        }
        return JobDeadline(
            jobID: job.route.jobID, runID: job.route.runID, workflow: job.route.workflow, seconds: seconds,
            error: error)
    }

    /// Fails the attempt whose deadline has passed, as a worker's failure would; nothing when it is no longer
    /// running.
    private func fail(_ deadline: JobDeadline, in tx: any RunStoreTransaction) throws -> Outcome {
        // The run first: reading it locks it on a store several dispatchers share, so the attempt's status read
        // next is the latest (a result another dispatcher recorded meanwhile is seen, not overwritten).
        let run = try tx.runRecord(id: deadline.runID)
        if let item = try tx.item(jobID: deadline.jobID) {
            // An item of a for_each step: failed as its worker's failure would be.
            guard item.status == .running, let run, let workflow = try? self.workflow(of: run, in: tx) else {
                return Outcome()
            }
            logger.warning(
                "failed a job by its deadline: \(deadline.error)",
                metadata: ["run.id": "\(deadline.runID)", "step.id": "\(item.stepID)", "job.id": "\(deadline.jobID)"])
            var outcome = Outcome(stepsFailedByDeadline: 1)
            outcome.add(
                try applyItemResult(
                    .failure(deadline.error), jobID: deadline.jobID, startedAt: nil, workflow: workflow, in: tx))
            return outcome
        }
        guard let step = try tx.step(jobID: deadline.jobID), step.status == .running else { return Outcome() }
        logger.warning(
            "failed a job by its deadline: \(deadline.error)",
            metadata: ["run.id": "\(deadline.runID)", "step.id": "\(step.stepID)", "job.id": "\(deadline.jobID)"])
        let failure = StepEvent.failure(deadline.error)
        var outcome = Outcome(stepsFailedByDeadline: 1)
        if let run, let workflow = try? self.workflow(of: run, in: tx) {
            outcome.add(try record(failure, of: step, workflow: workflow, startedAt: nil, in: tx))
        } else {
            // A run whose workflow cannot be read: the attempt is recorded failed; nothing can be decided after it.
            try tx.finishStep(jobID: step.jobID, result: failure, startedAt: nil)
        }
        return outcome
    }

    /// A duration as the deadline's message writes it: `60 s`, `1500 ms`.
    static func text(_ duration: Duration) -> String {
        let milliseconds = duration / .milliseconds(1)
        let whole = Int(milliseconds.rounded())
        return whole % 1000 == 0 ? "\(whole / 1000) s" : "\(whole) ms"
    }
}

/// One attempt of a step, ready to publish: its routing data, its rendered input and its message on the plugin's
/// job topic.
struct ActionJob: Sendable {
    var route: JobRoute
    var input: JSONValue
    var message: BusMessage

    /// How the run store records it when it is sent.
    var attemptRecord: StepAttemptRecord {
        StepAttemptRecord(
            jobID: route.jobID, runID: route.runID, stepID: route.stepID, attempt: route.attempt, status: .running,
            input: input)
    }
}
