import Foundation
import Hummingbird
import Logging
import RelayCore
import ServiceLifecycle
import Synchronization

/// The InsightConnect runtime's HTTP API for a plugin (`<plugin> http`):
///
/// - `POST /api/v1/actions/{name}` (also `/actions/{name}`), `/api/v1/actions/{name}/test`,
///   `/api/v1/triggers/{name}/test`, `/api/v1/tasks/{name}`, `/api/v1/tasks/{name}/test`,
///   `/api/v1/connection/test`: the body is a v1 start message, the answer its event envelope;
/// - `GET /api/v1/info`, `/api/v1/status`, `/api/v1/actions`, `/api/v1/triggers`, `/api/v1/tasks`, `/api/v1/spec`.
///
/// Status codes as the runtime's: 200; 400 for plugin errors and bad requests; 500 for anything unexpected; 501
/// for a connection test the plugin does not have; 503 once shutdown has begun. SIGTERM and SIGINT stop intake and
/// let requests in flight finish.
public final class PluginHTTPServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 10001
        public init() {}
    }

    let plugin: Plugin
    let configuration: Configuration
    let host: PluginHost
    let shuttingDown = Atomic<Bool>(false)

    public init(plugin: Plugin, configuration: Configuration = Configuration()) {
        self.plugin = plugin
        self.configuration = configuration
        self.host = PluginHost(plugin: plugin)
    }

    /// Serves until SIGTERM or SIGINT. `onRunning` receives the bound port (useful with port 0).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = Router()
        register(on: router)
        var logger = Logger(label: "relay.plugin.http")
        logger.logLevel = .warning
        let name = plugin.name
        let hostName = configuration.host
        let app = Application(
            router: router,
            server: .http1(additionalChannelHandlers: [CloseAfterResponseHandler()]),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: plugin.name),
            onServerRunning: { channel in
                FileHandle.standardError.write(
                    Data("\(name): serving the plugin API on \(hostName):\(channel.localAddress?.port ?? 0)\n".utf8))
                await onRunning(channel.localAddress?.port ?? 0)
            },
            logger: logger)
        let flag = ShutdownFlag(server: self)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: flag), .init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// Raises the shutting-down flag as soon as graceful shutdown begins, so new requests get 503 while the
    /// requests in flight finish.
    private struct ShutdownFlag: Service {
        let server: PluginHTTPServer
        func run() async throws {
            try? await gracefulShutdown()
            server.shuttingDown.store(true, ordering: .relaxed)
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        for prefix in ["/api/v1", ""] {
            router.post("\(prefix)/actions/:name") { request, context in
                try await self.step(request, context, kind: .actionStart, test: false)
            }
        }
        router.post("/api/v1/actions/:name/test") { request, context in
            try await self.step(request, context, kind: .actionStart, test: true)
        }
        router.post("/api/v1/triggers/:name/test") { request, context in
            try await self.step(request, context, kind: .triggerStart, test: true)
        }
        router.post("/api/v1/tasks/:name") { request, context in
            try await self.step(request, context, kind: .taskStart, test: false)
        }
        router.post("/api/v1/tasks/:name/test") { request, context in
            try await self.step(request, context, kind: .taskStart, test: true)
        }
        router.post("/api/v1/connection/:type") { request, context in
            try await self.connectionTest(request, context)
        }
        router.get("/api/v1/info") { _, _ in self.json(self.info) }
        router.get("/api/v1/status") { _, _ in
            self.json(["status": self.shuttingDown.load(ordering: .relaxed) ? "Shutting down" : "Ready"])
        }
        router.get("/api/v1/actions") { _, _ in self.json(.array(self.plugin.spec.actions.map { .string($0.name) })) }
        router.get("/api/v1/triggers") { _, _ in self.json(.array(self.plugin.spec.triggers.map { .string($0.name) })) }
        router.get("/api/v1/tasks") { _, _ in self.json(.array(self.plugin.spec.tasks.map { .string($0.name) })) }
        router.get("/api/v1/spec") { _, _ in self.json(self.plugin.spec.root.json) }
    }

    var info: JSONValue {
        let root = plugin.spec.root
        var info: JSONObject = [:]
        for field in [
            "name", "description", "version", "vendor", "plugin_spec_version", "title", "support", "tags",
            "enable_cache",
        ] {
            info[field] = root[field]?.json ?? .null
        }
        info["number_of_workers"] = 1
        info["threads"] = .int(ProcessInfo.processInfo.activeProcessorCount)
        info["sdk_version"] = "relay"
        return .object(info)
    }

    private func step(
        _ request: Request, _ context: BasicRequestContext, kind: V1Message.Kind, test: Bool
    ) async throws -> Response {
        if shuttingDown.load(ordering: .relaxed) { return error(503, "The plugin is shutting down") }
        let name = context.parameters.get("name") ?? ""
        let message: V1Message
        do {
            message = try await readMessage(request)
        } catch let failure as RequestFailure {
            return error(400, failure.message)
        }
        guard message.kind == kind else {
            return error(400, "Expected a \(kind.rawValue) message, found \(message.kind.rawValue)")
        }
        let key = kind == .actionStart ? "action" : kind == .triggerStart ? "trigger" : "task"
        guard message.body[key]?.stringValue == name else {
            return error(
                400,
                "\(key.capitalized) name (\(message.body[key]?.stringValue ?? "None")) in input body is "
                    + "not matching with name (\(name)) in route"
            )
        }
        let section = key + "s"
        guard plugin.spec.root[section]?[name] != nil else {
            return error(400, "\(key.capitalized) \(name) does not exist")
        }
        let start: StepStart
        do {
            start = try StepStart(message: message)
        } catch {
            return self.error(400, error.message)
        }
        let event: StepEvent
        if test {
            event = await host.run(
                StepStart(step: .connectionTest, input: start.input, connection: start.connection, meta: start.meta))
        } else if kind == .taskStart {
            event = await host.runTask(start)
        } else {
            event = await host.run(start)
        }
        return envelope(event, kind: kind.eventKind)
    }

    private func connectionTest(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        if shuttingDown.load(ordering: .relaxed) { return error(503, "The plugin is shutting down") }
        let type = context.parameters.get("type") ?? ""
        guard type == "test" || type == "test_task" else {
            return json(
                [
                    "error": "The requested endpoint is not available, only ['test', 'test_task'] are supported.",
                    "code": 404, "method": "POST", "name": "Not Found",
                ], status: .notFound)
        }
        let message: V1Message
        do {
            message = try await readMessage(request)
        } catch let failure as RequestFailure {
            return error(400, failure.message)
        }
        let body = message.body
        let start = StepStart(
            step: .connectionTest, input: body["input"] ?? [:], connection: body["connection"] ?? [:],
            meta: body["meta"] ?? .null)
        let event = await host.run(start)
        if event.status == .ok, event.output == nil || event.output == .null {
            return Response(status: .noContent)
        }
        return envelope(event, kind: .connectionTest)
    }

    private struct RequestFailure: Error { var message: String }

    private func readMessage(_ request: Request) async throws -> V1Message {
        var request = request
        let buffer = try await request.collectBody(limit: 64 * 1024 * 1024)
        let bytes = Array(buffer.readableBytesView)
        guard !bytes.isEmpty else { throw RequestFailure(message: "Empty input provided") }
        do {
            return try V1Message(json: try JSONParser.parse(bytes: bytes))
        } catch let error as JSONParseError {
            throw RequestFailure(message: "The body is not valid JSON: \(error)")
        } catch let error as V1ProtocolError {
            throw RequestFailure(message: error.message)
        }
    }

    private func envelope(_ event: StepEvent, kind: V1Message.Kind) -> Response {
        let status: HTTPResponse.Status
        switch (event.status, event.errorKind) {
        case (.ok, _): status = .ok
        case (.error, .plugin), (.error, .client): status = .badRequest
        case (.error, .notImplemented): status = .notImplemented
        default: status = .internalServerError
        }
        return json(event.message(kind: kind).json, status: status)
    }

    private func error(_ code: Int, _ message: String) -> Response {
        json(["error": .string(message)], status: HTTPResponse.Status(code: code))
    }

    private func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeBytes(JSONWriter.compact.bytes(value))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}
