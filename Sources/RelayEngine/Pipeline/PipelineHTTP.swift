import Hummingbird
import Logging
import RelayCore
import RelaySDK
import ServiceLifecycle

/// The HTTP endpoints of a process that runs pipeline services: `/healthz`, `/metrics`, and with a trigger host
/// its webhooks (`/webhooks/**`) and the dispatcher endpoint of external triggers (`/dispatcher/<token>`).
enum PipelineHTTP {
    /// The largest event an external trigger may post: a longer one is answered 413 and its connection closed.
    static let largestBody = 16 * 1024 * 1024
    /// The largest webhook body unless configured otherwise (`webhookBodyLimit`).
    static let defaultWebhookBodyLimit = 1024 * 1024

    static func router(
        metrics: PipelineMetrics, triggers: TriggerHost?, api: OperatorAPI? = nil,
        webhookBodyLimit: Int = defaultWebhookBodyLimit
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/metrics") { _, _ in metrics.prometheusText() }
        api?.addRoutes(to: router)
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
        host: String, port: Int, serverName: String, metrics: PipelineMetrics, triggers: TriggerHost?,
        api: OperatorAPI? = nil, webhookBodyLimit: Int = defaultWebhookBodyLimit, logger: Logger,
        onReady: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        var httpLogger = logger
        httpLogger.logLevel = .warning
        return Application(
            router: router(metrics: metrics, triggers: triggers, api: api, webhookBodyLimit: webhookBodyLimit),
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
