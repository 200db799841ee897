import Hummingbird
import Logging
import RelayCore
import RelaySDK
import ServiceLifecycle

/// The HTTP endpoints of a process that runs pipeline services: `/healthz`, `/readyz`, `/metrics`, with the run
/// store the operator's API (`/api/v1`) and web UI (`/`, `/ui/*`), and with a trigger host its webhooks
/// (`/webhooks/**`) and the dispatcher endpoint of external triggers (`/dispatcher/<token>`). Every request is
/// measured by Hummingbird's `MetricsMiddleware`, which reports through the global `MetricsSystem` (bootstrapped by
/// the executables with the process's `PipelineMetrics.factory`; a no-op elsewhere).
enum PipelineHTTP {
    /// The largest event an external trigger may post: a longer one is answered 413 and its connection closed.
    static let largestBody = 16 * 1024 * 1024
    /// The largest webhook body unless configured otherwise (`webhookBodyLimit`).
    static let defaultWebhookBodyLimit = 1024 * 1024

    static func router(
        metrics: PipelineMetrics, readiness: PipelineReadiness = PipelineReadiness(), triggers: TriggerHost?,
        api: OperatorAPI? = nil, webhookBodyLimit: Int = defaultWebhookBodyLimit
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        // Alive: the process answers.
        router.get("/healthz") { _, _ in "ok\n" }
        // Ready: its bus and run store answer, and on Kafka every consumer group has joined.
        router.get("/readyz") { _, _ -> Response in
            let reasons = await readiness.reasons()
            let body: JSONValue = ["ready": .bool(reasons.isEmpty), "reasons": .array(reasons.map { .string($0) })]
            return Response(
                status: reasons.isEmpty ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: JSONWriter.compact.string(body) + "\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await metrics.prometheusText())))
        }
        if let api {
            api.addRoutes(to: router)
            // The web UI, beside the API it reads (its files need no token; its data does).
            OperatorUI.addRoutes(to: router)
        }
        guard let triggers else { return router }
        for method in [HTTPRequest.Method.post, .get] {
            router.on("/webhooks/**", method: method) { request, _ in
                try await PipelineHTTP.webhook(
                    request, router: triggers.webhooks, metrics: metrics, bodyLimit: webhookBodyLimit)
            }
        }
        router.post("/dispatcher/:token") { request, context -> Response in
            try await PipelineHTTP.dispatch(
                request, token: context.parameters.get("token") ?? "", endpoint: triggers.dispatch)
        }
        return router
    }

    /// The HTTP server of a pipeline process on `host:port` (port 0: any free one). Once it listens, external
    /// triggers learn the dispatcher endpoint's base URL and `onReady` gets the port. Its logs below warning are
    /// dropped (one line per request would drown the pipeline's).
    static func application(
        host: String, port: Int, serverName: String, metrics: PipelineMetrics,
        readiness: PipelineReadiness = PipelineReadiness(), triggers: TriggerHost?, api: OperatorAPI? = nil,
        webhookBodyLimit: Int = defaultWebhookBodyLimit, logger: Logger,
        onReady: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        var httpLogger = logger
        httpLogger.logLevel = .warning
        return Application(
            router: router(
                metrics: metrics, readiness: readiness, triggers: triggers, api: api,
                webhookBodyLimit: webhookBodyLimit),
            server: .http1(additionalChannelHandlers: [CloseAfterResponseHandler()]),
            configuration: .init(address: .hostname(host, port: port), serverName: serverName),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                triggers?.dispatch.setBaseURL("http://127.0.0.1:\(port)")
                await onReady(port)
            },
            logger: httpLogger)
    }
}

/// Runs a component until graceful shutdown, then cancels it (the component drains on cancellation). With a
/// logger, says when draining starts and when the component has drained (where a stuck shutdown stands).
struct PipelineComponent: Service {
    let name: String
    var logger: Logger?
    let body: @Sendable () async throws -> Void

    init(name: String, logger: Logger? = nil, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.logger = logger
        self.body = body
    }

    func run() async throws {
        let (name, logger) = (name, logger)
        try await withGracefulShutdownHandler {
            try await cancelWhenGracefulShutdown {
                do {
                    try await body()
                } catch  where error is CancellationError || Task.isCancelled {
                    // Cancellation is how shutdown reaches a component: that ending is a clean one.
                }
                logger?.info("\(name): drained")
            }
        } onGracefulShutdown: {
            logger?.info("\(name): draining (stopped taking work)")
        }
    }
}
