import ArgumentParser
import Foundation
import Logging
import RelayEngine
import RelayKafka
import RelayPlugins

/// The options every process of the distributed pipeline shares.
struct DistributedOptions: ParsableArguments {
    @Option(help: "The project directory (env RELAY_DIR).") var dir: String =
        ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var prefix: TopicPrefixOption
    @Option(help: "session.timeout.ms of group membership (env RELAY_KAFKA_SESSION_TIMEOUT_MS).")
    var sessionTimeoutMs: Int =
        Int(ProcessInfo.processInfo.environment["RELAY_KAFKA_SESSION_TIMEOUT_MS"] ?? "") ?? 10_000
    @Option(help: "Address the HTTP endpoint listens on (env RELAY_HOST); 0.0.0.0 in a container.")
    var host: String = ProcessInfo.processInfo.environment["RELAY_HOST"] ?? "127.0.0.1"
    @Option(
        help: """
            Partitions of topics Relay creates when they are missing and not declared in DIR/topics \
            (env RELAY_KAFKA_PARTITIONS).
            """
    )
    var partitions: Int = Int(ProcessInfo.processInfo.environment["RELAY_KAFKA_PARTITIONS"] ?? "") ?? 6
    @Option(
        help: """
            Dispatcher: seconds past a step's timeout to wait for a job's result before failing the attempt \
            (env RELAY_DEADLINE_GRACE).
            """
    )
    var deadlineGrace: Double = Double(ProcessInfo.processInfo.environment["RELAY_DEADLINE_GRACE"] ?? "") ?? 30
    @Option(
        help: """
            Dispatcher and triggers: how often to read the workflow files for changes (hot reload); 1s, 500ms, 2m, \
            0 for never (env RELAY_RELOAD_INTERVAL). A worker's plugins are fixed at its start.
            """
    )
    var reloadInterval: String = ProcessInfo.processInfo.environment["RELAY_RELOAD_INTERVAL"] ?? "1s"
    @Option(
        help: """
            Dispatcher: how long to keep events' payloads for relay events replay: 30d, 12h, 0 for not at all \
            (env RELAY_EVENT_RETENTION).
            """
    )
    var eventRetention: String = ProcessInfo.processInfo.environment["RELAY_EVENT_RETENTION"] ?? "30d"
    @Option(
        help: """
            Dispatcher and trigger host: the store they share, postgres://user:password@host:port/db?sslmode=disable \
            (env RELAY_STORE_URL): any number of dispatchers may share it. Without it, SQLite files in DIR/.relay.
            """
    )
    var store: String? = ProcessInfo.processInfo.environment["RELAY_STORE_URL"].flatMap { $0.isEmpty ? nil : $0 }

    func run(
        _ role: DistributedPipeline.Role, port: Int?, concurrency: Int = 8, plugins: [String]? = nil,
        webhookBodyLimit: Int? = nil, triggerSessionTimeoutMs: Int? = nil
    ) async throws {
        CLILogging.bootstrap()
        let project = try CLIFailure.wrap { try Project.load(directory: dir, native: try NativePlugins.all()) }
        var configuration = DistributedPipeline.Configuration()
        configuration.kafka = KafkaTransportConfiguration(
            client: try kafka.client(defaultClientID: "relay-\(role.rawValue)"))
        configuration.kafka.sessionTimeoutMilliseconds = sessionTimeoutMs
        configuration.kafka.heartbeatIntervalMilliseconds = min(1000, max(sessionTimeoutMs / 4, 100))
        configuration.kafka.defaultPartitions = partitions
        configuration.kafka.topicPrefix = prefix.topicPrefix
        configuration.port = port
        configuration.host = host
        configuration.concurrency = concurrency
        configuration.plugins = plugins
        configuration.dispatcher.deadlineGrace = try DeadlineGrace.duration(seconds: deadlineGrace)
        configuration.reloadInterval = try ReloadInterval.duration(reloadInterval)
        if let webhookBodyLimit { configuration.webhookBodyLimit = webhookBodyLimit }
        if let triggerSessionTimeoutMs {
            configuration.triggerOwnership.sessionTimeoutMilliseconds = triggerSessionTimeoutMs
            configuration.triggerOwnership.heartbeatIntervalMilliseconds = min(
                1000, max(triggerSessionTimeoutMs / 4, 100))
        }
        configuration.apiToken = ProcessInfo.processInfo.environment["RELAY_API_TOKEN"].flatMap {
            $0.isEmpty ? nil : $0
        }
        configuration.dispatcher.eventRetention = try CLIDuration.eventRetention(eventRetention)
        configuration.store = store
        let brokers = configuration.kafka.client.bootstrapServers.joined(separator: ",")
        let metrics = PipelineMetrics()
        CLIMetrics.bootstrap(metrics)
        do {
            try await DistributedPipeline.run(role, project: project, configuration: configuration, metrics: metrics) {
                port in
                FileHandle.standardError.write(
                    Data(
                        ("relay \(role.rawValue): \(project.workflows.count) workflow(s), Kafka "
                            + "\(brokers)\(port > 0 ? ", http://127.0.0.1:\(port)" : "")\n").utf8))
            }
        } catch let error as KafkaError {
            throw CLIFailure("relay \(role.rawValue): \(error.message)")
        }
    }
}

struct DispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatcher",
        abstract: "Run the dispatcher on Kafka: events → runs, results → next jobs; keeps the run store.",
        discussion:
            "Env: RELAY_DIR, RELAY_BROKERS, RELAY_KAFKA_PROPERTIES, RELAY_KAFKA_CLIENT_ID, "
            + "RELAY_TOPIC_PREFIX, RELAY_KAFKA_SESSION_TIMEOUT_MS, RELAY_KAFKA_PARTITIONS, RELAY_HOST, "
            + "RELAY_PORT, RELAY_DEADLINE_GRACE, RELAY_RELOAD_INTERVAL, RELAY_EVENT_RETENTION, RELAY_STORE_URL "
            + "(PostgreSQL: any number of dispatchers share it). SIGTERM drains and exits 0."
    )
    @OptionGroup var options: DistributedOptions
    @Option(help: "Port of /healthz and /metrics; 0 for none (env RELAY_PORT).")
    var port: Int = Int(ProcessInfo.processInfo.environment["RELAY_PORT"] ?? "") ?? 0

    func run() async throws { try await options.run(.dispatcher, port: port == 0 ? nil : port) }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract:
            "Run a worker on Kafka: consumes job topics in the plugin's group, runs the actions, publishes results.",
        discussion:
            "Env: as relay dispatcher, plus RELAY_WORKER_PLUGINS (comma-separated) and RELAY_WORKER_CONCURRENCY. "
            + "Start more workers to go faster (bounded by the job topics' partitions)."
    )
    @OptionGroup var options: DistributedOptions
    @Option(
        name: .customLong("plugin"),
        help: """
            A plugin whose jobs this worker runs; repeatable (default: the plugins the workflows use; \
            env RELAY_WORKER_PLUGINS).
            """
    )
    var plugins: [String] =
        ProcessInfo.processInfo.environment["RELAY_WORKER_PLUGINS"].map { $0.split(separator: ",").map(String.init) }
        ?? []
    @Option(help: "Jobs run at once (env RELAY_WORKER_CONCURRENCY).")
    var concurrency: Int = Int(ProcessInfo.processInfo.environment["RELAY_WORKER_CONCURRENCY"] ?? "") ?? 8
    @Option(help: "Port of /healthz and /metrics; 0 for none (env RELAY_PORT).")
    var port: Int = Int(ProcessInfo.processInfo.environment["RELAY_PORT"] ?? "") ?? 0

    func run() async throws {
        try await options.run(
            .worker, port: port == 0 ? nil : port, concurrency: concurrency, plugins: plugins.isEmpty ? nil : plugins)
    }
}

struct TriggersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triggers",
        abstract: "Run the trigger host on Kafka: timers, webhooks, external triggers and tasks publish events.",
        discussion:
            "Env: as relay dispatcher, plus RELAY_WEBHOOK_BODY_LIMIT and RELAY_TRIGGER_SESSION_TIMEOUT_MS. Serves "
            + "webhooks (/webhooks/PATH), the external triggers' dispatcher endpoint, /healthz and /metrics on PORT. "
            + "Run any number: each timer, poller, external trigger and task runs on one of them (group "
            + "relay.trigger-hosts), every webhook on all."
    )
    @OptionGroup var options: DistributedOptions
    @Option(help: "The HTTP port (env RELAY_PORT).") var port: Int =
        Int(ProcessInfo.processInfo.environment["RELAY_PORT"] ?? "") ?? 8080
    @Option(
        help: """
            The largest webhook body in bytes; a longer one is answered 413 without being read \
            (env RELAY_WEBHOOK_BODY_LIMIT).
            """
    )
    var webhookBodyLimit: String = ProcessInfo.processInfo.environment["RELAY_WEBHOOK_BODY_LIMIT"] ?? "1048576"
    @Option(
        help: """
            session.timeout.ms of the trigger hosts' group: how long a host that died keeps its timers, pollers and \
            tasks before the others take them (env RELAY_TRIGGER_SESSION_TIMEOUT_MS; 6000 is Apache Kafka's \
            smallest by default).
            """
    )
    var triggerSessionTimeoutMs: Int =
        Int(ProcessInfo.processInfo.environment["RELAY_TRIGGER_SESSION_TIMEOUT_MS"] ?? "") ?? 6_000

    func run() async throws {
        try await options.run(
            .triggers, port: port, webhookBodyLimit: try WebhookBodyLimit.bytes(webhookBodyLimit),
            triggerSessionTimeoutMs: triggerSessionTimeoutMs)
    }
}
