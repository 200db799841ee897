import Foundation
import Logging
import RelayKafka
import RelayStore
import RelayTransport
import ServiceLifecycle

/// The pipeline's services as separate processes on Kafka: `relay dispatcher`, `relay worker`, `relay triggers`.
/// Each reads the same project directory; the dispatcher keeps the run store (`DIR/.relay/relay.sqlite`, which
/// `relay runs` reads), the trigger host its trigger state (`DIR/.relay/triggers.sqlite`) — or, given a shared store
/// (`Configuration.store`, PostgreSQL), both live there and any number of dispatchers may share it.
///
/// Shutdown (SIGTERM or SIGINT): the HTTP endpoint stops first (services stop in reverse order of start: no new
/// webhook is taken), then the workflow watcher (dispatcher and trigger host); the service stops taking work,
/// finishes or times out what is in flight, publishes and acknowledges it; then the transport commits, leaves its
/// groups and flushes its producer; the process exits 0.
public enum DistributedPipeline {
    public enum Role: String, Sendable, CaseIterable {
        case dispatcher, worker, triggers
    }

    public struct Configuration: Sendable {
        public var kafka = KafkaTransportConfiguration()
        /// The HTTP endpoint: `/healthz`, `/readyz` and `/metrics` (and, for triggers, webhooks); a nil port: none.
        public var host = "127.0.0.1"
        public var port: Int?
        /// Workers: jobs run at once, and which plugins' job topics to consume (nil: the plugins the workflows use).
        public var concurrency = 8
        public var plugins: [String]?
        /// The dispatcher's deadline grace (docs/pipeline.md, *Deadlines*).
        public var dispatcher = Dispatcher.Configuration()
        /// Dispatcher and trigger host: how often the workflow files are read for changes (hot reload); zero:
        /// never. A worker's plugins are fixed at its start.
        public var reloadInterval = Duration.seconds(1)
        /// The dispatcher's operator API (`/api/v1`, where the run store is): its limits, and which bearer tokens it
        /// accepts (nil: the project's, `DIR/.relay/api-tokens.json`, and `apiToken`).
        public var api = OperatorAPI.Configuration()
        public var verifyAPIToken: (@Sendable (String) -> Bool)?
        /// A token accepted besides the project's (`RELAY_API_TOKEN`), never written anywhere.
        public var apiToken: String?
        /// Trigger host: the largest webhook body in bytes; a longer one is answered 413 without being read whole.
        public var webhookBodyLimit = PipelineHTTP.defaultWebhookBodyLimit
        /// The store the roles share (`SharedStore`): a PostgreSQL URL for the run store (dispatchers) and the
        /// trigger state (trigger hosts); nil: SQLite files in the project's `.relay` (one dispatcher; trigger
        /// hosts each with their own state).
        public var store: String?
        /// Trigger hosts: their group's session timeout, which bounds how long a dead host keeps its instances.
        public var triggerOwnership = KafkaTriggerOwnership.Configuration()
        public init() {}
    }

    /// Runs one role until SIGTERM or SIGINT, with `metrics` at its `/metrics`.
    public static func run(
        _ role: Role, project: Project, configuration: Configuration,
        metrics: PipelineMetrics = PipelineMetrics(), logger: Logger = Logger(label: "relay"),
        onReady: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        var kafka = configuration.kafka
        // The project's topic declarations, when it has a topics directory: one that cannot be read is an error
        // (a topic created with the wrong settings is worse than not starting).
        if kafka.topics.isEmpty, FileManager.default.fileExists(atPath: project.layout.topics) {
            kafka.topics = try TopicDeclaration.loadDirectory(project.layout.topics)
        }
        let transport = try KafkaTransport(configuration: kafka, logger: logger)
        do {
            try await runServices(
                role, project: project, configuration: configuration, transport: transport, metrics: metrics,
                logger: logger, onReady: onReady)
        } catch {
            await transport.close()
            throw error
        }
        logger.info("\(role.rawValue): closing the Kafka clients (commit, leave the groups, flush)")
        await transport.close()
        logger.info("\(role.rawValue): stopped")
    }

    /// The role's services and the HTTP endpoint, until the service group ends (the caller closes the transport).
    private static func runServices(
        _ role: Role, project: Project, configuration: Configuration, transport: KafkaTransport,
        metrics: PipelineMetrics, logger: Logger, onReady: @escaping @Sendable (Int) async -> Void
    ) async throws {
        // Which partitions this process's consumers own now and how far its groups are behind, at /metrics.
        metrics.observe(kafka: transport)
        var assembly = PipelineAssembly(project: project, transport: transport, metrics: metrics, logger: logger)
        assembly.dispatcherConfiguration = configuration.dispatcher
        let pipeline: PipelineServices
        var api: OperatorAPI?
        switch role {
        case .dispatcher:
            let database: any SQLDatabase =
                try configuration.store.map { try SharedStore.open($0) }
                ?? SQLiteDatabase(path: project.layout.database)
            let store = try SQLRunStore(database: database, publishingTo: transport)
            metrics.observe(store: store)
            pipeline = assembly.services(dispatcher: store)
            api = OperatorAPI(
                project: project, store: store, transport: transport, registry: assembly.registry,
                verifyToken: configuration.verifyAPIToken, apiToken: configuration.apiToken,
                configuration: configuration.api, logger: logger)
        case .worker:
            // By default, the plugins the project's workflows run as steps: one consumer group per plugin, and
            // groups nobody needs would only slow joining down.
            pipeline = assembly.services(
                worker: .init(
                    plugins: configuration.plugins ?? assembly.pluginsInUse, concurrency: configuration.concurrency))
        case .triggers:
            // Their state (a timer's last tick, a poller's cursor) in the shared store when there is one, so that the
            // next owner of an instance goes on from where the last one stopped.
            let database: any SQLDatabase =
                try configuration.store.map { try SharedStore.open($0, connections: 2) }
                ?? SQLiteDatabase(path: project.layout.stateDirectory + "/triggers.sqlite")
            // Trigger hosts share the instances through Kafka's group protocol (webhooks run on every host).
            let ownership = try await KafkaTriggerOwnership.join(
                transport, configuration: configuration.triggerOwnership)
            pipeline = assembly.services(
                triggers: try SQLTriggerStateStore(database: database), ownership: ownership)
        }
        let triggers = pipeline.triggers
        // Ready once the cluster answers and the groups its services consume in have joined (and the run store).
        let groups =
            (pipeline.dispatcher.map { _ in [Dispatcher.group, DeadLetterKeeper.group] } ?? [])
            + (pipeline.worker?.plugins.map { Worker.group(of: $0) } ?? [])
        var checks = [PipelineReadiness.kafka(transport, groups: groups)]
        if let store = pipeline.dispatcher?.store as? SQLRunStore { checks.append(PipelineReadiness.store(store)) }
        var services = pipeline.components(logging: true)
        // The roles that start runs and trigger instances follow the workflow files; after the services, so that
        // it stops before them.
        if role != .worker,
            let watcher = assembly.workflowWatcher(layout: project.layout, interval: configuration.reloadInterval)
        {
            services.append(
                .init(
                    service: PipelineComponent(name: "workflow watcher", logger: logger) { try await watcher.run() }))
        }
        if let port = configuration.port {
            services.append(
                .init(
                    service: PipelineHTTP.application(
                        host: configuration.host, port: port, serverName: "relay-\(role.rawValue)", metrics: metrics,
                        readiness: PipelineReadiness(checks), triggers: triggers, api: api,
                        webhookBodyLimit: configuration.webhookBodyLimit, logger: logger, onReady: onReady)))
        } else {
            await onReady(0)
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
