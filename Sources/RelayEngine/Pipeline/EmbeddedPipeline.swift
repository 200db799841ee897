import Foundation
import Logging
import RelayCore
import RelaySDK
import RelayStore
import RelayTransport
import ServiceLifecycle

/// `relay up`: the trigger host, the dispatcher, the workers, the HTTP endpoint (webhooks, `/healthz`, `/readyz`,
/// `/metrics`), a printer of finished runs and the workflow watcher (hot reload), in one process over one SQLite
/// file.
///
/// Shutdown order (SIGTERM or SIGINT): the workflow watcher stops first (no reload while draining), then the
/// trigger host (no new events), then the workers finish or time out their jobs and publish the results, then the
/// dispatcher, the printer and the HTTP server stop. Nothing acknowledged is lost; anything not acknowledged is
/// picked up at the next start.
public final class EmbeddedPipeline: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var workerConcurrency = 8
        /// The dispatcher's deadline grace (docs/pipeline.md, *Deadlines*).
        public var dispatcher = Dispatcher.Configuration()
        /// How often the workflow files are read for changes (hot reload); zero: never.
        public var reloadInterval = Duration.seconds(1)
        /// Print one line per finished run.
        public var printRuns = true
        /// The operator's API (`/api/v1`): its limits, and which bearer tokens it accepts (nil: the project's,
        /// `DIR/.relay/api-tokens.json`, and `apiToken`).
        public var api = OperatorAPI.Configuration()
        public var verifyAPIToken: (@Sendable (String) -> Bool)?
        /// A token accepted besides the project's (`RELAY_API_TOKEN`), never written anywhere.
        public var apiToken: String?
        /// The largest webhook body in bytes: a longer one is answered 413 without being read whole.
        public var webhookBodyLimit = PipelineHTTP.defaultWebhookBodyLimit
        public init() {}
    }

    public let project: Project
    public let configuration: Configuration
    public let bus: EmbeddedBus
    /// The run store, in the bus's database file.
    public let store: SQLRunStore
    let triggerStates: SQLTriggerStateStore
    public let metrics = PipelineMetrics()
    let logger: Logger

    public init(
        project: Project, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "relay")
    ) throws {
        self.project = project
        self.configuration = configuration
        self.logger = logger
        let database = try SQLiteDatabase(path: project.layout.database)
        bus = try EmbeddedBus(database: database)
        store = try SQLRunStore(bus: bus)
        triggerStates = try SQLTriggerStateStore(database: database)
        metrics.observe(bus: bus)
        metrics.observe(store: store)
    }

    /// What `/readyz` checks: the bus and the run store answer.
    public var readiness: PipelineReadiness {
        PipelineReadiness([PipelineReadiness.bus(bus), PipelineReadiness.store(store)])
    }

    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var assembly = PipelineAssembly(project: project, transport: bus, metrics: metrics, logger: logger)
        assembly.dispatcherConfiguration = configuration.dispatcher
        let pipeline = assembly.services(
            dispatcher: store, worker: .init(concurrency: configuration.workerConcurrency), triggers: triggerStates)
        let triggers = pipeline.triggers
        let api = OperatorAPI(
            project: project, store: store, transport: bus, registry: assembly.registry,
            verifyToken: configuration.verifyAPIToken, apiToken: configuration.apiToken,
            configuration: configuration.api, logger: logger)
        let app = PipelineHTTP.application(
            host: configuration.host, port: configuration.port, serverName: "relay",
            metrics: metrics, readiness: readiness, triggers: triggers, api: api,
            webhookBodyLimit: configuration.webhookBodyLimit, logger: logger, onReady: onReady)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        if configuration.printRuns {
            services.append(.init(service: PipelineComponent(name: "printer") { try await self.printRuns() }))
        }
        let bus = self.bus
        services += [
            .init(
                service: PipelineComponent(name: "retention") {
                    // Deletes consumed messages past the retention period, hourly.
                    while !Task.isCancelled {
                        try await bus.applyRetention()
                        try await Task.sleep(for: .seconds(3600))
                    }
                })
        ]
        services += pipeline.components()
        // Last, so that it stops first: no reload while the pipeline drains.
        if let watcher = assembly.workflowWatcher(layout: project.layout, interval: configuration.reloadInterval) {
            services.append(.init(service: PipelineComponent(name: "workflow watcher") { try await watcher.run() }))
        }
        var groupLogger = logger
        groupLogger.logLevel = .warning
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger))
        try await group.run()
    }

    /// One line per finished run: `run 3f2a… triage succeeded in 41 ms (4 steps: 3 succeeded, 1 failed)`.
    func printRuns() async throws {
        let subscription = try await bus.subscribe(topic: Topics.runs, group: "relay.up.printer")
        while let delivery = try await subscription.next() {
            do {
                let notice = try RunNotice(bytes: delivery.message.value)
                let line = try await store.run(id: notice.runID)?.line ?? "run \(notice.runID): not found"
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            } catch let error as MessageDecodingError {
                // Only the dispatcher writes here; a notice nobody can read is logged and passed over.
                logger.error("\(Topics.runs): \(error)", metadata: ["kafka.offset": "\(delivery.offset)"])
            }
            try await subscription.acknowledge(delivery)
        }
    }
}
