import Logging
import RelayCore

/// What a trigger sees: the step context, a way to send events, and state that survives restarts.
public struct TriggerContext<Connection: PluginConnection, Output: Encodable & Sendable>: Sendable {
    public let step: StepContext<Connection>
    private let sink: @Sendable (JSONValue) async throws -> Void
    public let state: TriggerState
    /// Requests to this trigger's webhook, when its host serves one (Relay's trigger host does).
    public let webhook: WebhookInbox?

    public init(
        step: StepContext<Connection>, state: TriggerState, webhook: WebhookInbox? = nil,
        sink: @escaping @Sendable (JSONValue) async throws -> Void
    ) {
        self.step = step
        self.state = state
        self.webhook = webhook
        self.sink = sink
    }

    public var connection: Connection { step.connection }
    public var logger: Logger { step.logger }

    /// Sends one event. It returns once the event is accepted (published, or posted to the dispatcher).
    ///
    /// `position` names where in its source the event comes from, when the trigger knows (a timer's tick, a feed's
    /// item id): the same event sent again, by this run or by the next host to run the instance after a failover,
    /// names the same position, and Relay's trigger host makes it the event's id so that the repeat starts no
    /// second run (`TriggerEventPosition`). Without one, each event gets a new id.
    public func send(_ event: Output, position: String? = nil) async throws {
        let value = try JSONValueCoder.encode(event)
        guard let position else { return try await sink(value) }
        try await TriggerEventPosition.$current.withValue(position) { try await sink(value) }
    }
}

/// The position a trigger named for the event being sent (`TriggerContext.send(_:position:)`). A task local, set
/// around the send, so that it reaches whoever publishes the event through the plugin host's send closures
/// unchanged; nil when the trigger named none.
public enum TriggerEventPosition {
    @TaskLocal public static var current: String?

    /// The longest position an event id is made from, in UTF-8 bytes.
    public static let maximumLength = 256
}

/// A trigger's state: one JSON value per trigger instance, kept by whoever runs the trigger (a file for a
/// standalone plugin, the run store for Relay's trigger host).
public struct TriggerState: Sendable {
    private let loadValue: @Sendable () async throws -> JSONValue?
    private let saveValue: @Sendable (JSONValue) async throws -> Void

    public init(
        load: @escaping @Sendable () async throws -> JSONValue?,
        save: @escaping @Sendable (JSONValue) async throws -> Void
    ) {
        self.loadValue = load
        self.saveValue = save
    }

    /// The saved state, decoded; nil when nothing was saved yet.
    public func load<State: Decodable>(_ type: State.Type) async throws -> State? {
        guard let value = try await loadValue() else { return nil }
        return try JSONValueCoder.decode(type, from: value)
    }

    public func save<State: Encodable>(_ state: State) async throws {
        try await saveValue(try JSONValueCoder.encode(state))
    }

    /// The saved state as JSON; nil when nothing was saved yet.
    public func loadRaw() async throws -> JSONValue? { try await loadValue() }

    public func saveRaw(_ value: JSONValue) async throws { try await saveValue(value) }

    /// State kept in memory only.
    public static func inMemory() -> TriggerState {
        let box = StateBox()
        return TriggerState(load: { await box.value }, save: { await box.set($0) })
    }
}

actor StateBox {
    var value: JSONValue?
    func set(_ value: JSONValue) { self.value = value }
}
