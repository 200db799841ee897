import Logging
import RelayCore
import RelaySpec
import Synchronization

/// Runs a plugin's steps from v1 start messages, with the runtime's rules: the connection is validated against
/// its schema and connected once per distinct set of parameters; inputs, task state and outputs are validated
/// against their schemas (required inputs may not be null or ""; defaults are not injected); secrets of the
/// connection are masked in outputs (unless `masksSecrets` is false: Relay's engine masks whole results itself, once,
/// see `PluginExecutor`); every failure becomes an error event (`error` text and, for `PluginError`, an
/// `exception` object), never a crash.
public final class PluginHost: Sendable {
    public let plugin: Plugin
    /// Whether outputs, task events and trigger events are masked here. A plugin executable (`PluginMain`, the HTTP
    /// server) masks, as the runtime does; the engine's catalog turns it off and masks every result in one place.
    public let masksSecrets: Bool
    private let logger: Logger
    /// Connections by name (`meta.connection`), or by parameters for steps that name none; one task per entry, so
    /// jobs that arrive together connect once. A named connection whose parameters change (it was replaced)
    /// replaces its entry: the old client is dropped.
    private let connections = Mutex<[ConnectionKey: CachedConnection]>([:])

    private enum ConnectionKey: Hashable {
        case named(String)
        case parameters(JSONValue)
    }

    private struct CachedConnection {
        var parameters: JSONValue
        var task: Task<any Sendable, any Error>
    }

    /// How many connections are cached (for tests).
    var cachedConnectionCount: Int { connections.withLock { $0.count } }

    /// What cancels steps at their deadlines: one watch for the process (a host of its own in tests).
    let deadlines: DeadlineWatch

    public convenience init(
        plugin: Plugin, logger: Logger = Logger(label: "relay.plugin"), masksSecrets: Bool = true
    ) {
        self.init(plugin: plugin, logger: logger, masksSecrets: masksSecrets, deadlines: .shared)
    }

    init(
        plugin: Plugin, logger: Logger = Logger(label: "relay.plugin"), masksSecrets: Bool = true,
        deadlines: DeadlineWatch
    ) {
        self.plugin = plugin
        self.masksSecrets = masksSecrets
        self.logger = logger
        self.deadlines = deadlines
    }

    // MARK: - Actions

    /// Runs an action (or the connection test for `.connectionTest`). `deadline` cancels the action when passed:
    /// the task of `handle` when the caller gives its task to the step (the plugin's code then runs in it), a task of
    /// the step's own otherwise.
    public func run(
        _ start: StepStart, deadline: ContinuousClock.Instant? = nil, runningIn handle: StepTaskHandle? = nil
    ) async -> StepEvent {
        let capture = LogCapture()
        let stepLogger = capture.logger(label: "relay.plugin.\(plugin.name)", forwardingTo: nil)
        do {
            switch start.step {
            case .action(let name):
                guard let handler = plugin.actions[name] else { throw StepFailure.client("Unknown action \"\(name)\"") }
                try validate(
                    start.input, with: plugin.validator("actions", name, "input"), root: "input",
                    what: "action input")
                let connection = try await connect(start, logger: stepLogger)
                let values = StepContextValues(logger: stepLogger, deadline: deadline, meta: start.meta)
                var output = try await withDeadline(deadline, runningIn: handle) {
                    try await handler(start.input, connection, values)
                }
                try validate(
                    output, with: plugin.validator("actions", name, "output"), root: "output",
                    what: "action output")
                output = secretMasker(for: start).mask(output)
                return .success(output, log: capture.text, meta: start.meta)
            case .connectionTest:
                let connection = try await connect(start, logger: stepLogger)
                guard let test = plugin.connector.test else { throw ConnectionTestUnavailable() }
                let output = try await withDeadline(deadline, runningIn: handle) {
                    try await test(connection, ConnectionContext(logger: stepLogger))
                }
                return .success(output, log: capture.text, meta: start.meta)
            case .trigger(let name), .task(let name):
                throw StepFailure.client("\(name) is a \(start.step.kindName); it cannot run as an action")
            }
        } catch {
            return failure(error, log: capture.text, meta: start.meta, isConnectionTest: start.step == .connectionTest)
        }
    }

    // MARK: - Tasks

    /// Runs one pass of a task: validates input and state, returns its events (as `output`), new state and
    /// `has_more_pages`.
    public func runTask(_ start: StepStart, deadline: ContinuousClock.Instant? = nil) async -> StepEvent {
        let capture = LogCapture()
        let stepLogger = capture.logger(label: "relay.plugin.\(plugin.name)")
        do {
            guard case .task(let name) = start.step, let handler = plugin.tasks[name] else {
                throw StepFailure.client("Unknown task \"\(start.step.name)\"")
            }
            try validate(
                start.input, with: plugin.validator("tasks", name, "input"), root: "input",
                what: "task input")
            if let state = start.state {
                try validate(
                    state, with: plugin.validator("tasks", name, "state"), root: "state",
                    what: "task state")
            }
            let connection = try await connect(start, logger: stepLogger)
            let values = StepContextValues(logger: stepLogger, deadline: deadline, meta: start.meta)
            let outcome = try await withDeadline(deadline) {
                try await handler(start.input, start.state, connection, values)
            }
            let masked = secretMasker(for: start).mask(outcome.events)
            var event = StepEvent.success(masked, log: capture.text, meta: start.meta)
            event.state = outcome.state
            event.hasMorePages = outcome.hasMorePages
            event.statusCode = outcome.statusCode
            return event
        } catch {
            return failure(error, log: capture.text, meta: start.meta, isConnectionTest: false)
        }
    }

    // MARK: - Triggers

    /// Runs a trigger until it returns, throws or the calling task is cancelled. Each event is validated against the
    /// trigger's output schema and masked before `send` receives it; an invalid event is logged and not sent.
    public func runTrigger(
        _ start: StepStart, state: TriggerState, webhook: WebhookInbox? = nil,
        send: @escaping @Sendable (JSONValue) async throws -> Void
    ) async -> StepEvent {
        let capture = LogCapture()
        let stepLogger = capture.logger(label: "relay.plugin.\(plugin.name)", forwardingTo: logger)
        do {
            guard case .trigger(let name) = start.step, let handler = plugin.triggers[name] else {
                throw StepFailure.client("Unknown trigger \"\(start.step.name)\"")
            }
            try validate(
                start.input, with: plugin.validator("triggers", name, "input"), root: "input",
                what: "trigger input")
            let connection = try await connect(start, logger: stepLogger)
            let validator = plugin.validator("triggers", name, "output")
            let masker = secretMasker(for: start)
            let values = StepContextValues(logger: stepLogger, deadline: nil, meta: start.meta)
            try await handler(start.input, connection, values, state, webhook) { [self] event in
                do {
                    try self.validate(event, with: validator, root: "output", what: "trigger event")
                } catch {
                    stepLogger.error("event not sent: \(self.describe(error))")
                    return
                }
                try await send(masker.mask(event))
            }
            return .success([:], log: capture.text, meta: start.meta)
        } catch {
            return failure(error, log: capture.text, meta: start.meta, isConnectionTest: false)
        }
    }

    // MARK: - Pieces

    /// The masker for the secrets of `start`'s connection, or one that masks nothing when `masksSecrets` is false.
    func secretMasker(for start: StepStart) -> SecretMasker {
        masksSecrets
            ? SecretMasker(schema: plugin.connectionSchema, connection: start.connection) : SecretMasker(secrets: [])
    }

    /// The connection of `start` (named by `meta.connection`, when it is one of the project's).
    func connect(_ start: StepStart, logger: Logger) async throws -> any Sendable {
        try await connect(start.connection, name: start.meta["connection"]?.stringValue, logger: logger)
    }

    /// Validates and connects, reusing the connection made earlier with the same name and parameters.
    func connect(_ parameters: JSONValue, name: String?, logger: Logger) async throws -> any Sendable {
        let plugin = self.plugin
        let key = name.map(ConnectionKey.named) ?? .parameters(parameters)
        // The parameters of a connection made before were valid then: only new ones are validated.
        let reused = connections.withLock { connections in
            connections[key].flatMap { $0.parameters == parameters ? $0.task : nil }
        }
        if let reused { return try await reused.value }
        try validate(parameters, with: plugin.connectionValidator, root: "connection", what: "connection")
        let task = connections.withLock { connections in
            if let existing = connections[key], existing.parameters == parameters { return existing.task }
            // New, or replaced (other parameters under the same name): the old entry and its client go.
            let created = Task<any Sendable, any Error> {
                try await plugin.connector.connect(parameters, ConnectionContext(logger: logger))
            }
            connections[key] = CachedConnection(parameters: parameters, task: created)
            return created
        }
        do {
            return try await task.value
        } catch {
            // A failed connect is not cached: the next job tries again.
            connections.withLock { if $0[key]?.task == task { $0[key] = nil } }
            throw error
        }
    }

    /// Throws the problems `validator` finds in `value` (none when there is no validator: an empty schema).
    func validate(_ value: JSONValue, with validator: SchemaValidator?, root: String, what: String) throws {
        guard let validator else { return }
        let problems = validator.validate(value, at: JSONPath(root: root))
        guard problems.isEmpty else {
            throw StepFailure.client("\(what) is invalid: " + problems.map(\.description).joined(separator: "; "))
        }
    }

    private func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant?, runningIn handle: StepTaskHandle? = nil,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let deadline else { return try await body() }
        let watch: DeadlineWatch.Watch
        let result: Result<T, any Error>
        if let handle {
            // In the caller's task, which the deadline cancels (`StepTaskHandle`).
            watch = deadlines.watch(until: deadline) { handle.cancel() }
            do { result = .success(try await body()) } catch { result = .failure(error) }
            handle.finish()
        } else {
            // One task for the body, cancelled at the deadline by the shared watch (not a timer task of its own).
            let task = Task { try await body() }
            watch = deadlines.watch(until: deadline) { task.cancel() }
            result = await withTaskCancellationHandler {
                await task.result
            } onCancel: {
                task.cancel()
            }
        }
        deadlines.unwatch(watch)
        if watch.hasFired { throw StepDeadlineExceeded() }
        return try result.get()
    }

    func describe(_ error: any Error) -> String {
        switch error {
        case let failure as StepFailure:
            switch failure {
            case .client(let message), .server(let message): return message
            }
        case let plugin as PluginError: return plugin.runtimeDescription
        default: return "\(error)"
        }
    }

    private func failure(_ error: any Error, log: String, meta: JSONValue, isConnectionTest: Bool) -> StepEvent {
        var event: StepEvent
        switch error {
        case let pluginError as PluginError:
            event = .failure(
                isConnectionTest ? pluginError.connectionTestDescription : pluginError.runtimeDescription,
                exception: StepException(
                    cause: pluginError.cause, assistance: pluginError.assistance,
                    data: .string(pluginError.data.map { $0.stringValue ?? JSONWriter.compact.string($0) } ?? "")))
            event.errorKind = .plugin
        case let failure as StepFailure:
            switch failure {
            case .client(let message):
                event = .failure(message)
                event.errorKind = .client
            case .server(let message):
                event = .failure(message)
                event.errorKind = .server
            }
        case is StepDeadlineExceeded:
            event = .failure("The step did not finish before its deadline and was cancelled")
            event.errorKind = .timeout
        case is ConnectionTestUnavailable:
            event = .failure(
                "The server successfully processed the request and is not returning any content (no "
                    + "connection test function)"
            )
            event.errorKind = .notImplemented
        case is CancellationError:
            event = .failure("The step was cancelled")
            event.errorKind = .timeout
        default:
            event = .failure("\(error)")
            event.errorKind = .server
        }
        if isConnectionTest, event.exception == nil {
            event.exception = StepException(
                cause: "Plugin connection test failed.", assistance: "See error log for more details.",
                data: .string("\(error)"))
        }
        event.log = log + "\(ISO8601Now.string()) - ERROR: \(event.error ?? "")\n"
        event.meta = meta
        return event
    }
}

struct StepDeadlineExceeded: Error {}
struct ConnectionTestUnavailable: Error {}

extension StepStart.Step {
    var name: String {
        switch self {
        case .action(let n), .trigger(let n), .task(let n): n
        case .connectionTest: "connection test"
        }
    }

    var kindName: String {
        switch self {
        case .action: "action"
        case .trigger: "trigger"
        case .task: "task"
        case .connectionTest: "connection test"
        }
    }
}

extension PluginError {
    /// `str(PluginException)` in the runtime.
    public var runtimeDescription: String {
        var text = "An error occurred during plugin execution! \(cause) \(assistance)"
        if let data, data != .string(""), !data.isNull {
            text += " Response was \(data.stringValue ?? JSONWriter.compact.string(data))"
        }
        return text
    }

    /// `str(ConnectionTestException)` in the runtime.
    public var connectionTestDescription: String {
        var text = "Connection test failed! \(cause) \(assistance)"
        if let data, data != .string(""), !data.isNull {
            text += " Response was: \(data.stringValue ?? JSONWriter.compact.string(data))"
        }
        return text
    }
}
