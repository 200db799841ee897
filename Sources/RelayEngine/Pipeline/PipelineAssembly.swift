import Logging
import RelayCore
import RelayStore
import RelayTransport
import ServiceLifecycle

/// How the pipeline's services are wired: every process that runs some of them (`relay up`, `relay dispatcher`,
/// `relay worker`, `relay triggers`, `relay bench`, the tests) builds them here, over its transport, with one
/// set of metrics and one logger.
///
/// Shutdown order: `components` lists the dispatcher, then the workers, then the trigger host; a service group
/// stops them in reverse (no new events first, then the jobs in flight finish, then the dispatcher records them).
public struct PipelineAssembly: Sendable {
    /// The workflows: the current version of each, replaced as a whole on a hot reload.
    public let registry: WorkflowRegistry
    /// The current workflows.
    public var workflows: [Workflow] { registry.workflows }
    public let catalog: PluginCatalog
    public let connections: ConnectionStore
    public let transport: any Transport
    public let metrics: PipelineMetrics
    public let logger: Logger
    /// The dispatcher's deadline grace and sweep interval.
    public var dispatcherConfiguration = Dispatcher.Configuration()

    public init(
        workflows: [Workflow], catalog: PluginCatalog, connections: ConnectionStore = ConnectionStore(),
        transport: any Transport, metrics: PipelineMetrics = PipelineMetrics(),
        logger: Logger = Logger(label: "relay")
    ) {
        self.registry = WorkflowRegistry(workflows)
        self.catalog = catalog
        self.connections = connections
        self.transport = transport
        self.metrics = metrics
        self.logger = logger
    }

    /// The project's workflows, plugins and connections.
    public init(
        project: Project, transport: any Transport, metrics: PipelineMetrics = PipelineMetrics(),
        logger: Logger = Logger(label: "relay")
    ) {
        self.init(
            workflows: project.workflows, catalog: project.catalog, connections: project.connections,
            transport: transport, metrics: metrics, logger: logger)
    }

    /// The plugins the workflows run as steps, sorted.
    public var pluginsInUse: [String] {
        Set(workflows.flatMap { $0.steps.filter { $0.workflow == nil && $0.builtin == nil }.map(\.plugin) }).sorted()
    }

    /// What a process runs: a dispatcher over `store`, a worker, a trigger host over `states`, any subset. A trigger
    /// host runs the instances `ownership` gives it (nil: all of them).
    public func services(
        dispatcher store: (any RunStore)? = nil, worker: WorkerSettings? = nil,
        triggers states: (any TriggerStateStore)? = nil, ownership: (any TriggerOwnership)? = nil
    ) -> PipelineServices {
        let dispatcher = store.map {
            Dispatcher(
                bus: transport, store: $0, workflows: registry, metrics: metrics,
                configuration: dispatcherConfiguration, logger: logger)
        }
        // Beside a dispatcher whose store shares the bus's transactions, the worker's results and the trigger host's
        // events are decided in the transactions that would have published them (`Dispatcher.decideLocally`), not
        // through relay.results and relay.events.
        var local: MessageSink?
        if let dispatcher, let store, store.sharesTransactions(with: transport) {
            local = MessageSink { messages, inputs in
                try await dispatcher.decideLocally(messages, acknowledging: inputs)
            }
        }
        return PipelineServices(
            dispatcher: dispatcher,
            worker: worker.map {
                Worker(
                    bus: transport, catalog: catalog, connections: connections, plugins: $0.plugins,
                    concurrency: $0.concurrency, metrics: metrics, results: local, logger: logger)
            },
            triggers: states.map {
                TriggerHost(
                    bus: transport, states: $0, catalog: catalog, connections: connections, registry: registry,
                    ownership: ownership, events: local, metrics: metrics, logger: logger)
            },
            upkeep: store.map {
                RunStoreUpkeep(bus: transport, store: $0, configuration: dispatcherConfiguration, logger: logger)
            },
            logger: logger)
    }

    /// Hot reload of the workflows of `layout` into the registry, polled every `interval`; nil when the interval
    /// is zero (reload off).
    public func workflowWatcher(layout: ProjectLayout, interval: Duration) -> WorkflowWatcher? {
        guard interval > .zero else { return nil }
        return WorkflowWatcher(
            layout: layout, registry: registry,
            validator: WorkflowValidator(catalog: catalog, connections: connections), interval: interval,
            metrics: metrics, logger: logger)
    }

    public struct WorkerSettings: Sendable {
        /// Whose job topics to consume; nil: every plugin of the catalog.
        public var plugins: [String]?
        /// Jobs run at once.
        public var concurrency: Int
        public init(plugins: [String]? = nil, concurrency: Int = 8) {
            self.plugins = plugins
            self.concurrency = concurrency
        }
    }
}

/// The services of one process, built by `PipelineAssembly`.
public struct PipelineServices: Sendable {
    public let dispatcher: Dispatcher?
    public let worker: Worker?
    public let triggers: TriggerHost?
    /// Beside the dispatcher, over its store: the dead-letter keeper and the event retention.
    public let upkeep: RunStoreUpkeep?
    let logger: Logger

    /// For a service group: the dispatcher, the worker, the trigger host (the group stops them in reverse). With
    /// `logging`, each says when it starts draining and when it has drained.
    public func components(logging: Bool = false) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let logger = logging ? self.logger : nil
        // (The store's upkeep first, so that it stops last and keeps what the draining dispatcher dead-letters.)
        var components = upkeep?.components(logger: logger) ?? []
        if let dispatcher {
            components.append(
                .init(service: PipelineComponent(name: "dispatcher", logger: logger) { try await dispatcher.run() }))
        }
        if let worker {
            components.append(
                .init(service: PipelineComponent(name: "worker", logger: logger) { try await worker.run() }))
        }
        if let triggers {
            components.append(
                .init(service: PipelineComponent(name: "triggers", logger: logger) { try await triggers.run() }))
        }
        return components
    }

    /// Runs every service until cancelled (for benchmarks and tests, which stop by cancelling instead of a signal);
    /// a service that fails ends the others.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let dispatcher { group.addTask { try await dispatcher.run() } }
            if let upkeep { group.addTask { try await upkeep.run() } }
            if let worker { group.addTask { try await worker.run() } }
            if let triggers { group.addTask { try await triggers.run() } }
            defer { group.cancelAll() }
            while try await group.next() != nil {}
        }
    }
}
