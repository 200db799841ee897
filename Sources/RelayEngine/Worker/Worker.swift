import Foundation
import Logging
import RelayCore
import RelaySDK
import RelayTransport

/// Runs action jobs: consumes `relay.jobs.<plugin>` for each plugin it hosts (group `relay.workers.<plugin>`), runs
/// each job with its connection and deadline, and publishes the result while acknowledging the job, in one
/// transaction. Up to `concurrency` jobs run at once, across all its plugins (one limit for the worker).
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
    /// `concurrency` slots, shared by every plugin's subscription.
    let slots: JobSlots

    public init(
        bus: any Transport, catalog: PluginCatalog, connections: ConnectionStore, plugins: [String]? = nil,
        concurrency: Int = 8, metrics: PipelineMetrics = PipelineMetrics(),
        logger: Logger = Logger(label: "relay.worker")
    ) {
        self.bus = bus
        self.catalog = catalog
        self.connections = connections
        self.plugins = plugins ?? catalog.entries.keys.sorted()
        self.concurrency = max(1, concurrency)
        self.metrics = metrics
        self.logger = logger
        self.committer = ResultCommitter(bus: bus)
        self.slots = JobSlots(self.concurrency)
    }

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
                let subscription = try await bus.subscribe(topic: Topics.jobs(plugin), group: "relay.workers.\(plugin)")
                group.addTask {
                    defer { Task { await subscription.close() } }
                    try await self.consume(subscription)
                }
            }
            try await group.waitForAll()
        }
    }

    private func consume(_ subscription: any BusSubscription) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            while let delivery = try await subscription.next() {
                await slots.acquire()
                group.addTask {
                    // Jobs in flight finish even when intake stops.
                    let outcome = await Task { try await self.handle(delivery) }.result
                    await self.slots.release()
                    try outcome.get()
                }
            }
            try await group.waitForAll()
        }
    }

    func handle(_ delivery: Delivery) async throws {
        let job = Self.job(delivery.message.value)
        guard case .success(var start) = job, case .action(let action) = start.step,
            let jobID = start.meta["jobId"]?.stringValue
        else {
            var reason = "not a job: expected a v1 action_start with meta.jobId, found"
            if case .failure(let error) = job { reason = "not a job: \(error); found" }
            var headers = delivery.message.headers
            headers["relay.dlq.reason"] = "\(reason) \(EventText.excerpt(delivery.message.value))"
            headers["relay.dlq.topic"] = delivery.message.topic
            headers["relay.dlq.offset"] = String(delivery.offset)
            metrics.deadLettered.increment()
            try await bus.publish(
                [
                    BusMessage(
                        topic: Topics.dlq, key: delivery.message.key, value: delivery.message.value, headers: headers)
                ],
                acknowledging: [delivery])
            return
        }
        let plugin = String(delivery.message.topic.dropFirst(Topics.jobs("").count))
        let startedAt = Date().timeIntervalSince1970
        // Clamped: a deadline past what a clock holds traps, and a message's timeout was checked by no workflow.
        let timeout = WorkflowLimits.timeout(milliseconds: start.meta["timeoutMs"]?.intValue ?? 60_000)
        var event: StepEvent
        let connectionName = start.meta["connection"]?.stringValue
        do {
            start.connection = try connections.parameters(connectionName)
            guard let entry = catalog[plugin] else {
                throw RelayError(.notFound, "no plugin named \(plugin) is installed")
            }
            // Masked there: whatever the plugin wrote (output, log, error), no connection secret leaves in clear.
            event = await entry.run(start, timeout: timeout)
        } catch {
            event = .failure("\(error)")
        }
        if event.errorKind == .timeout { event.error = "the step did not finish within its timeout of \(timeout)" }
        // A result the dispatcher could not read would be dead-lettered and leave its run waiting: the step fails
        // with the reason instead.
        if let problem = event.output?.payloadProblem(at: "output")
            ?? event.exception?.data.payloadProblem(at: "exception.data")
        {
            event = .failure("the plugin's result cannot be passed on: \(problem)", log: event.log)
        }
        var meta = start.meta.objectValue ?? [:]
        meta["startedAt"] = .double(startedAt)
        event.meta = .object(meta)
        if event.status == .ok { metrics.jobsSucceeded.increment() } else { metrics.jobsFailed.increment() }
        logger.debug("job \(jobID) \(action): \(event.status.rawValue)")
        let result = BusMessage(
            topic: Topics.results, key: delivery.message.key, json: event.message(kind: .actionEvent).json)
        try await committer.commit(result, acknowledging: delivery)
    }

    /// A job message read as a step start, or why it is not one.
    static func job(_ bytes: [UInt8]) -> Result<StepStart, RelayError> {
        do {
            let json = try JSONParser.parse(bytes: bytes)
            return .success(try StepStart(message: V1Message(json: json)))
        } catch let error as JSONParseError {
            return .failure(RelayError(.invalidJSON, "\(error)"))
        } catch {
            return .failure(RelayError(.invalidValue, "\(error)"))
        }
    }
}
