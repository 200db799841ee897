import Foundation
import Hummingbird
import Logging
import RelayCore
import RelaySDK
import RelayTransport
import ServiceLifecycle

/// `relay up`: the trigger host, the dispatcher, the workers, the HTTP endpoint (webhooks, `/healthz`,
/// `/metrics`) and a printer of finished runs, in one process over one SQLite file.
///
/// Shutdown order (SIGTERM or SIGINT): the trigger host stops first (no new events), then the workers finish or
/// time out their jobs and publish the results, then the dispatcher, the printer and the HTTP server stop. Nothing
/// acknowledged is lost; anything not acknowledged is picked up at the next start.
public final class EmbeddedPipeline: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var workerConcurrency = 8
        /// Print one line per finished run.
        public var printRuns = true
        public init() {}
    }

    public let project: Project
    public let configuration: Configuration
    public let bus: EmbeddedBus
    public let metrics = PipelineMetrics()
    let logger: Logger

    public init(project: Project, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "relay")) throws {
        self.project = project
        self.configuration = configuration
        self.logger = logger
        let database = try SQLiteDatabase(path: project.layout.database)
        bus = try EmbeddedBus(database: database)
        try RunStore.createTables(database)
    }

    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let dispatcher = Dispatcher(bus: bus, workflows: project.workflows, metrics: metrics, logger: logger)
        let worker = Worker(bus: bus, catalog: project.catalog, connections: project.connections,
                            concurrency: configuration.workerConcurrency, metrics: metrics, logger: logger)
        let triggers = TriggerHost(bus: bus, database: bus.database, catalog: project.catalog, connections: project.connections,
                                   workflows: project.workflows, metrics: metrics, logger: logger)
        let router = Router()
        let metrics = self.metrics
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/metrics") { _, _ in metrics.prometheusText() }
        router.on("/webhooks/**", method: .post) { request, context in
            try await EmbeddedPipeline.webhook(request, context: context, router: triggers.webhooks)
        }
        router.on("/webhooks/**", method: .get) { request, context in
            try await EmbeddedPipeline.webhook(request, context: context, router: triggers.webhooks)
        }
        router.post("/dispatcher/:token") { request, context -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
            guard let message = try? JSONParser.parse(bytes: Array(body.readableBytesView)) else {
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: "expected a v1 trigger_event\n")))
            }
            let known = try await triggers.dispatch.deliver(token: context.parameters.get("token") ?? "", message: message)
            return Response(status: known ? .ok : .notFound)
        }
        var httpLogger = logger
        httpLogger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "relay"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                triggers.dispatch.setBaseURL("http://127.0.0.1:\(port)")
                await onReady(port)
            },
            logger: httpLogger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        if configuration.printRuns {
            services.append(.init(service: Component(name: "printer") { try await self.printRuns() }))
        }
        let bus = self.bus
        services += [
            .init(service: Component(name: "retention") {
                // Deletes consumed messages past the retention period, hourly.
                while !Task.isCancelled {
                    try await bus.applyRetention()
                    try await Task.sleep(for: .seconds(3600))
                }
            }),
            .init(service: Component(name: "dispatcher") { try await dispatcher.run() }),
            .init(service: Component(name: "worker") { try await worker.run() }),
            .init(service: Component(name: "triggers") { try await triggers.run() }),
        ]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: httpLogger))
        try await group.run()
    }

    /// Runs a component until graceful shutdown, then cancels it (the component drains on cancellation).
    struct Component: Service {
        let name: String
        let body: @Sendable () async throws -> Void
        func run() async throws {
            try await cancelWhenGracefulShutdown {
                do {
                    try await body()
                } catch {
                    // Cancellation is how shutdown reaches a component: that ending is a clean one.
                    if error is CancellationError || Task.isCancelled { return }
                    throw error
                }
            }
        }
    }

    static func webhook(_ request: Request, context: BasicRequestContext, router: WebhookRouter) async throws -> Response {
        let path = String(request.uri.path.dropFirst("/webhooks/".count))
        guard let inbox = router.inbox(for: path) else {
            return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no webhook trigger listens on /webhooks/\(path)\n")))
        }
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let accepted = await inbox.deliver(method: request.method.rawValue, path: request.uri.path, headers: headers, query: query,
                                           body: String(buffer: body))
        return Response(status: accepted ? .accepted : .internalServerError,
                        body: .init(byteBuffer: ByteBuffer(string: accepted ? "accepted\n" : "the event could not be published\n")))
    }

    /// One line per finished run: `run 3f2a… triage succeeded in 41 ms (4 steps: 3 succeeded, 1 failed)`.
    func printRuns() async throws {
        let subscription = try await bus.subscribe(topic: Topics.runs, group: "relay.up.printer")
        while let delivery = try await subscription.next() {
            if let notice = try? JSONParser.parse(bytes: delivery.message.value), let runID = notice["runId"]?.stringValue {
                let summary = try await RunQueries(database: bus.database).summary(runID)
                FileHandle.standardOutput.write(Data((summary + "\n").utf8))
            }
            try await subscription.acknowledge(delivery)
        }
    }
}
