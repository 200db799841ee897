import RelayCore
import RelayTransport

/// Where a component's messages go, each batch with the acknowledgements of its inputs, in one transaction:
/// published on the bus (`MessageSink.bus`), or decided at once by a dispatcher of the same process that shares the
/// bus's transactions (`Dispatcher.decideLocally`): a worker's results, a trigger host's events.
public struct MessageSink: Sendable {
    let commit: @Sendable ([SinkMessage], [Delivery]) async throws -> Void

    public init(_ commit: @escaping @Sendable ([SinkMessage], [Delivery]) async throws -> Void) {
        self.commit = commit
    }

    /// Published on the bus, with the acknowledgements.
    public static func bus(_ bus: any Transport) -> MessageSink {
        MessageSink { messages, inputs in try await bus.publish(messages.map(\.busMessage), acknowledging: inputs) }
    }
}

/// What a component hands to its sink: a message, or a worker's result as the worker made it. A dispatcher of the
/// same process decides a result from its values, without writing and reading its JSON; anywhere else it is the
/// message on `relay.results` that `busMessage` encodes.
public enum SinkMessage: Sendable {
    case message(BusMessage)
    /// A job's result (its `meta` is `route`'s) and the key of its message.
    case result(StepEvent, JobRoute, key: String)

    /// The message as it goes on the bus.
    public var busMessage: BusMessage {
        switch self {
        case .message(let message): message
        case .result(let event, _, let key):
            BusMessage(topic: Topics.results, key: key, json: event.message(kind: .actionEvent).json)
        }
    }
}
