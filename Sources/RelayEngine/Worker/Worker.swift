import Foundation
import Logging
import RelayCore
import RelaySDK
import RelayTransport

/// Runs action jobs: consumes `relay.jobs.<plugin>` for each plugin it hosts (group `relay.workers.<plugin>`), runs
/// each job with its connection and deadline, and publishes the result while acknowledging the job, in one
/// transaction. Up to `concurrency` jobs run at once, across all its plugins (one limit for the worker).
///
/// Shutdown: cancellation stops intake; jobs in flight finish (or reach their deadline), publish and acknowledge.
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

    public init(bus: any Transport, catalog: PluginCatalog, connections: ConnectionStore, plugins: [String]? = nil,
                concurrency: Int = 8, metrics: PipelineMetrics = PipelineMetrics(), logger: Logger = Logger(label: "relay.worker")) {
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
        guard let json = try? JSONParser.parse(bytes: delivery.message.value), let message = try? V1Message(json: json),
            var start = try? StepStart(message: message), case .action(let action) = start.step,
            let jobID = start.meta["jobId"]?.stringValue
        else {
            var headers = delivery.message.headers
            headers["relay.dlq.reason"] = "not a job: expected a v1 action_start with meta.jobId, found \(EventText.excerpt(delivery.message.value))"
            headers["relay.dlq.topic"] = delivery.message.topic
            metrics.deadLettered.increment()
            try await bus.publish([BusMessage(topic: Topics.dlq, key: delivery.message.key, value: delivery.message.value, headers: headers)],
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
            guard let entry = catalog[plugin] else { throw RelayError(.notFound, "no plugin named \(plugin) is installed") }
            switch entry.executor {
            case .native(let host): event = await host.run(start, deadline: .now + timeout)
            case .external(let runner): event = await runner.run(start, timeout: timeout)
            }
            // Whatever the plugin wrote (output, log, error), no connection secret leaves the worker in clear.
            event = event.masked(by: SecretMasker(schema: entry.schemas["connection"] ?? [:], connection: start.connection))
        } catch {
            event = .failure("\(error)")
        }
        if event.errorKind == .timeout { event.error = "the step did not finish within its timeout of \(timeout)" }
        var meta = start.meta.objectValue ?? [:]
        meta["startedAt"] = .double(startedAt)
        event.meta = .object(meta)
        if event.status == .ok { metrics.jobsSucceeded.increment() } else { metrics.jobsFailed.increment() }
        logger.debug("job \(jobID) \(action): \(event.status.rawValue)")
        let result = BusMessage(topic: Topics.results, key: delivery.message.key, json: event.message(kind: .actionEvent).json)
        try await committer.commit(result, acknowledging: delivery)
    }
}
