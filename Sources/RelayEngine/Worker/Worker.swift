import Foundation
import Logging
import RelayCore
import RelaySDK
import RelayTransport

/// Runs action jobs: consumes `relay.jobs.<plugin>` for each plugin it hosts (group `relay.workers.<plugin>`), runs
/// each job with its connection and deadline, and publishes the result while acknowledging the job, in one
/// transaction. Up to `concurrency` jobs run at once, across all its plugins (one limit for the worker). A job's slot
/// is free again once its plugin has answered: its result waits for the next group commit without holding a slot,
/// so trivial jobs are not paced by commits (up to `uncommitted` results wait at once). Its results go to
/// `relay.results`, or, beside a dispatcher sharing the bus's transactions, straight into that dispatcher's decision
/// (`results`: `Dispatcher.decideLocally`).
///
/// Shutdown: cancellation stops intake; jobs in flight finish (or reach their deadline), publish and acknowledge;
/// then the warm plugin servers the worker used are stopped, with their process groups.
public final class Worker: Sendable {
    let bus: any Transport
    let catalog: PluginCatalog
    let connections: ConnectionStore
    let plugins: [String]
    let concurrency: Int
    let metrics: PipelineMetrics
    let logger: Logger
    let committer: ResultCommitter
    /// `concurrency` slots, shared by every plugin's subscription: held while a job's plugin runs.
    let slots: JobSlots
    /// Jobs taken and not yet committed (running, or their result waiting for its commit): 1,024 (or twice
    /// `concurrency`), so that the worker goes on taking jobs while a large group commit is under way (with 256 it
    /// stopped, waiting for that commit, and left a core idle: docs/benchmarks.md, fourteenth round).
    let uncommitted: JobSlots
    /// The hosted plugins by job topic: a job's plugin found from its topic with one look-up, and held by reference
    /// (a catalog entry's spec is large: a copy per job was a retain and a release of each of its fields).
    let hosted: [String: HostedPlugin]

    final class HostedPlugin: Sendable {
        let name: String
        let entry: PluginCatalog.Entry

        init(name: String, entry: PluginCatalog.Entry) {
            self.name = name
            self.entry = entry
        }
    }

    public init(
        bus: any Transport, catalog: PluginCatalog, connections: ConnectionStore, plugins: [String]? = nil,
        concurrency: Int = 8, metrics: PipelineMetrics = PipelineMetrics(), results: MessageSink? = nil,
        logger: Logger = Logger(label: "relay.worker")
    ) {
        self.bus = bus
        self.catalog = catalog
        self.connections = connections
        self.plugins = plugins ?? catalog.entries.keys.sorted()
        self.concurrency = max(1, concurrency)
        self.metrics = metrics
        self.logger = logger
        self.committer = ResultCommitter(sink: results ?? .bus(bus))
        self.slots = JobSlots(self.concurrency)
        self.uncommitted = JobSlots(max(1024, 2 * self.concurrency))
        var hosted: [String: HostedPlugin] = [:]
        for name in self.plugins {
            if let entry = catalog[name] { hosted[Topics.jobs(name)] = HostedPlugin(name: name, entry: entry) }
        }
        self.hosted = hosted
    }

    /// The consumer group of a plugin's job topic.
    public static func group(of plugin: String) -> String { "relay.workers.\(plugin)" }

    public func run() async throws {
        // Last, once every job has finished: the warm plugin servers (and everything they started) stop too.
        do {
            try await consumeAll()
        } catch {
            await stopRunners()
            throw error
        }
        await stopRunners()
    }

    private func stopRunners() async {
        for plugin in plugins { await catalog[plugin]?.executor.shutdown() }
    }

    private func consumeAll() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for plugin in plugins {
                let subscription = try await bus.subscribe(topic: Topics.jobs(plugin), group: Self.group(of: plugin))
                group.addTask {
                    defer { Task { await subscription.close() } }
                    try await self.consume(subscription, topic: Topics.jobs(plugin))
                }
            }
            try await group.waitForAll()
        }
    }

    /// Takes the subscription's jobs until it ends or the worker stops, then waits for the jobs in flight. A failed
    /// commit of results stops intake at once (the worker then stops with its error, as the dispatcher stops at a
    /// failed transaction, and the service group with it): the jobs whose results were not committed, and those not
    /// taken yet, are unacknowledged and delivered again when the worker starts again. (It went on taking jobs
    /// before, running each and dropping its result, until it was stopped.)
    private func consume(_ subscription: any BusSubscription, topic: String) async throws {
        let inFlight = JobsInFlight()
        // In a task of its own, so that a failed commit can cancel it (and so does the worker's cancellation).
        let intake = Task { try await self.take(subscription, inFlight) }
        inFlight.stopIntakeOnFailure(intake)
        let taken = await withTaskCancellationHandler {
            await intake.result
        } onCancel: {
            intake.cancel()
        }
        if let failure = inFlight.failure {
            logger.error(
                "results not committed, the worker stops taking jobs (they come again at its next start): \(failure)",
                metadata: ["kafka.topic": "\(topic)"])
        }
        if let failure = await inFlight.allFinished() { throw failure }
        try taken.get()
    }

    private func take(_ subscription: any BusSubscription, _ inFlight: JobsInFlight) async throws {
        while let delivery = try await subscription.next() {
            await uncommitted.acquire()
            await slots.acquire()
            // A commit failed while this job waited: it is left unacknowledged, for the next start.
            guard inFlight.failure == nil else {
                slots.release()
                uncommitted.release()
                return
            }
            inFlight.started()
            // Unstructured, so that cancelling intake does not reach it: jobs in flight finish, publish and
            // acknowledge. (One task per job: a child task of a group that awaited it would be two. An
            // in-process plugin runs in it too, and its deadline cancels it: `StepTaskHandle`.)
            let handle = StepTaskHandle()
            let finished = FinishedJob(uncommitted: uncommitted, inFlight: inFlight)
            handle.attach(
                Task {
                    let result = await self.run(delivery, in: handle)
                    self.slots.release()
                    // Handed over, not waited for: the job is done once its result is committed (`finished`).
                    guard self.committer.submit(result, acknowledging: delivery, finished: finished) else { return }
                    if Task.isCancelled {
                        // The job's deadline cancelled this task: the commit runs where that cancellation does
                        // not reach.
                        await Task { await self.committer.drain() }.value
                    } else {
                        await self.committer.drain()
                    }
                })
        }
    }

    /// Runs a job; returns what to publish with its acknowledgement: its result, or the job dead-lettered when it
    /// is not one.
    func run(_ delivery: Delivery, in handle: StepTaskHandle) async -> SinkMessage {
        let job: ReceivedJob
        switch Self.job(delivery.message) {
        case .success(let read): job = read
        case .failure(let error):
            metrics.deadLettered(sourceTopic: delivery.message.topic)
            let reason = "not a job: \(error); found \(MessageText.excerpt(delivery.message.value))"
            return .message(DeadLetter(delivery, reason: reason).message)
        }
        var start = job.start
        var route = job.route
        let action = job.action
        let hostedPlugin = hosted[delivery.message.topic]
        let plugin = hostedPlugin?.name ?? String(delivery.message.topic.dropFirst(Topics.jobs("").count))
        route.startedAt = Date().timeIntervalSince1970
        let started = ContinuousClock.now
        metrics.jobStarted()
        // Clamped: a deadline past what a clock holds traps, and a message's timeout was checked by no workflow.
        let timeout = WorkflowLimits.timeout(milliseconds: route.timeoutMilliseconds)
        var event: StepEvent
        let connectionName = route.connection
        do {
            start.connection = try connections.parameters(connectionName)
            guard let hostedPlugin else {
                throw RelayError(.notFound, "no plugin named \(plugin) is installed")
            }
            // Masked there: whatever the plugin wrote (output, log, error), no connection secret leaves in clear.
            event = await hostedPlugin.entry.run(start, timeout: timeout, runningIn: handle)
        } catch {
            event = .failure("\(error)")
        }
        if event.errorKind == .timeout { event.error = "the step did not finish within its timeout of \(timeout)" }
        // A result the dispatcher could not read would be dead-lettered and leave its run waiting: the step fails
        // with the reason instead.
        if let problem = event.output?.payloadProblem(at: "output")
            ?? event.exception?.data.payloadProblem(at: "exception.data")
            ?? event.state?.payloadProblem(at: "state")
        {
            event = .failure("the plugin's result cannot be passed on: \(problem)", log: event.log)
        }
        route.finishedAt = Date().timeIntervalSince1970
        event.meta = route.meta
        metrics.jobFinished(
            workflow: route.workflow, plugin: plugin, action: action, succeeded: event.status == .ok,
            seconds: (ContinuousClock.now - started) / .seconds(1))
        logger.debug(
            "job \(action): \(event.status.rawValue)",
            metadata: ["job.id": "\(route.jobID)", "run.id": "\(route.runID)", "plugin": "\(plugin)"])
        // As its message would read back (a dispatcher of this process decides from these values).
        return .result(event.asSent, route, key: delivery.message.key)
    }

    /// What a job's commit ends: its place among the uncommitted, and its count among the subscription's jobs in
    /// flight (with the commit's error, if any).
    struct FinishedJob: ResultCommitter.Finished {
        let uncommitted: JobSlots
        let inFlight: JobsInFlight

        func committed(_ failure: (any Error)?) {
            uncommitted.release()
            inFlight.finished(failure)
        }
    }

    /// A job as the worker receives it: the start message, the action it names, Relay's routing data.
    struct ReceivedJob: Sendable, Equatable {
        var start: StepStart
        var action: String
        var route: JobRoute
    }

    /// A job message read as a step start (an action's) with its routing data, or why it is not one: as the
    /// message kept it when a dispatcher of this process wrote it (`BusMessage.local`), else read from its bytes.
    static func job(_ message: BusMessage) -> Result<ReceivedJob, RelayError> {
        if let kept = message.local as? ReceivedJob { return .success(kept) }
        return job(message.value)
    }

    /// A job message's bytes read as a step start (an action's) with its routing data, or why they are not one.
    static func job(_ bytes: [UInt8]) -> Result<ReceivedJob, RelayError> {
        let start: StepStart
        do {
            start = try StepStart(message: V1Message(json: JSONParser.parse(bytes: bytes)))
        } catch let error as JSONParseError {
            return .failure(RelayError(.invalidJSON, "\(error)"))
        } catch {
            return .failure(RelayError(.invalidValue, "\(error)"))
        }
        guard case .action(let action) = start.step else {
            return .failure(RelayError(.invalidValue, "expected a v1 action_start, found another start message"))
        }
        do {
            return .success(ReceivedJob(start: start, action: action, route: try JobRoute(meta: start.meta)))
        } catch {
            return .failure(RelayError(.invalidValue, "\(error)"))
        }
    }
}
