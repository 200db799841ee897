import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RelayCore
import RelaySpec
import RelayStore
import RelayTransport

/// The operator's API, under `/api/v1` of the process that keeps the run store (`relay up`; `relay dispatcher` on
/// Kafka): workflows, runs (list, show, start, cancel, resume, answer, artifacts), the live stream of changes, dead
/// letters, replays, connections and the OpenAPI document. JSON in and out; every route requires a bearer token;
/// errors are `{"error": {"code", "message"}}` (docs/api.md lists every route).
///
/// Requests about runs (cancel, resume, answer) go on `relay.control` like the CLI's: the dispatcher handles them
/// in order with the run's other messages, so the API answers 202 once the request is durable, and the run's
/// change reaches the stream when the dispatcher has made it.
public struct OperatorAPI: Sendable {
    public struct Configuration: Sendable {
        /// The largest request body a route reads (run inputs, replays).
        public var bodyLimit = 1 << 20
        /// How often the stream looks for new changes when there were none.
        public var streamPollInterval = Duration.milliseconds(100)
        /// How often the stream sends a comment line while there is nothing to say (keeps proxies from closing it).
        public var streamHeartbeat = Duration.seconds(15)
        /// The most event streams open at once.
        public var maximumStreams = 64
        /// How far back `GET /workflows` counts runs by status.
        public var recentRuns = Duration.seconds(86_400)
        public init() {}
    }

    let store: any RunStore
    let transport: any Transport
    let registry: WorkflowRegistry
    let layout: ProjectLayout
    let catalog: PluginCatalog
    let connections: ConnectionStore
    let verifyToken: @Sendable (String) -> Bool
    let configuration: Configuration
    let logger: Logger
    let streams = StreamCounter()

    public init(
        store: any RunStore, transport: any Transport, registry: WorkflowRegistry, layout: ProjectLayout,
        catalog: PluginCatalog, connections: ConnectionStore, verifyToken: @escaping @Sendable (String) -> Bool,
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "relay.api")
    ) {
        self.store = store
        self.transport = transport
        self.registry = registry
        self.layout = layout
        self.catalog = catalog
        self.connections = connections
        self.verifyToken = verifyToken
        self.configuration = configuration
        self.logger = logger
    }

    /// The API of a project's pipeline: its workflows' registry, catalog and connections; bearer tokens checked by
    /// `verifyToken`, or when nil by the project's token store (`DIR/.relay/api-tokens.json`) and `apiToken`
    /// (`RELAY_API_TOKEN`).
    public init(
        project: Project, store: any RunStore, transport: any Transport, registry: WorkflowRegistry,
        verifyToken: (@Sendable (String) -> Bool)?, apiToken: String?, configuration: Configuration, logger: Logger
    ) {
        self.init(
            store: store, transport: transport, registry: registry, layout: project.layout, catalog: project.catalog,
            connections: project.connections,
            verifyToken: verifyToken
                ?? APITokenStore(stateDirectory: project.layout.stateDirectory, environmentToken: apiToken).verify,
            configuration: configuration, logger: logger)
    }

    /// The prefix of every route.
    public static let prefix = "/api/v1"

    /// Every route, as the OpenAPI document (`openapi.json`) names it: the method, and the path below `prefix` with
    /// its parameters in braces. Routes are registered through `route(_:_:use:)`, which accepts only these; a test
    /// keeps this list equal to the document's and checks that each is served.
    public static let routes: [(method: String, path: String)] = [
        ("GET", "/workflows"), ("GET", "/workflows/{name}"), ("POST", "/workflows/{name}/runs"),
        ("GET", "/runs"), ("GET", "/runs/{id}"), ("POST", "/runs/{id}/cancel"), ("POST", "/runs/{id}/resume"),
        ("POST", "/runs/{id}/steps/{step}/answer"), ("GET", "/runs/{id}/artifacts"),
        ("GET", "/runs/{id}/artifacts/{name}"), ("GET", "/stream"), ("GET", "/connections"),
        ("GET", "/dead-letters"), ("GET", "/dead-letters/{id}"), ("POST", "/dead-letters/{id}/redrive"),
        ("DELETE", "/dead-letters/{id}"), ("POST", "/events/replay"), ("GET", "/openapi.json"),
    ]

    /// Adds the API's routes to `router`.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let api = router.group(RouterPath(Self.prefix))
            .add(middleware: APIErrorMiddleware())
            .add(middleware: APIAuthMiddleware(verify: verifyToken))
        addWorkflowRoutes(to: api)
        addRunRoutes(to: api)
        addStreamRoute(to: api)
        addConnectionRoutes(to: api)
        addDeadLetterRoutes(to: api)
        api.route(.get, "/openapi.json") { _, _ -> Response in
            guard let document = OpenAPIDocument.json else {
                throw APIError(.internal, "the OpenAPI document shipped with Relay cannot be read")
            }
            return APIResponse.json(document)
        }
        // Anything else under the prefix: a JSON 404 (after the token check, so that routes are not probed freely).
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            api.on("/**", method: method) { request, _ -> Response in
                throw APIError(
                    .notFound, "no route \(request.method.rawValue) \(request.uri.path) (docs/api.md lists the routes)")
            }
        }
    }
}

extension RouterGroup<BasicRequestContext> {
    /// Registers `handler` for `method` and `path`, one of `OperatorAPI.routes` (OpenAPI's form: `/runs/{id}`, which
    /// is Hummingbird's `/runs/:id`); any other is a programming error.
    @discardableResult
    func route(
        _ method: HTTPRequest.Method, _ path: String,
        use handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response
    ) -> Self {
        precondition(
            OperatorAPI.routes.contains { $0.method == method.rawValue && $0.path == path },
            "\(method.rawValue) \(path) is not in OperatorAPI.routes (nor, then, in openapi.json)")
        let components = path.split(separator: "/").map { component in
            component.hasPrefix("{") && component.hasSuffix("}") ? ":" + component.dropFirst().dropLast() : component
        }
        return on(RouterPath("/" + components.joined(separator: "/")), method: method, use: handler)
    }
}

/// Reading a request's path and query parameters.
extension BasicRequestContext {
    func pathParameter(_ name: String) throws -> String {
        guard let value = parameters.get(name) else { throw APIError(.badRequest, "the path lacks {\(name)}") }
        return value
    }
}

extension Request {
    /// The query parameter `name` (the last one when repeated); nil when absent or empty.
    func queryParameter(_ name: String) -> String? {
        guard let last = uri.queryParameters.getAll(name).last, !last.isEmpty else { return nil }
        let value = String(last)
        return value
    }
}

/// Times in requests: ISO 8601 (`2026-12-04T10:00:00Z`, fractions allowed) or seconds since 1970.
enum APITime {
    /// From 1970 to the year 5138: what ISO 8601 writes with four digits.
    static let range = 0.0...1e11

    static func parse(_ text: String, field: String) throws -> Double {
        let seconds = try read(text, field: field)
        guard range.contains(seconds) else {
            throw APIError(
                .badRequest, "\(field): expected a time from 1970 to the year 5138, found \"\(text.prefix(64))\"")
        }
        return seconds
    }

    private static func read(_ text: String, field: String) throws -> Double {
        if let seconds = Double(text), seconds.isFinite { return seconds }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        throw APIError(
            .badRequest,
            "\(field): expected a time in ISO 8601 (2026-12-04T10:00:00Z) or seconds since 1970, found "
                + "\"\(text.prefix(64))\"")
    }
}
