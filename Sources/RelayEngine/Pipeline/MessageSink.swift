import RelayTransport

/// Where a component's messages go, each batch with the acknowledgements of its inputs, in one transaction:
/// published on the bus (`MessageSink.bus`), or decided at once by a dispatcher of the same process that shares the
/// bus's transactions (`Dispatcher.decideLocally`): a worker's results, a trigger host's events.
public struct MessageSink: Sendable {
    let commit: @Sendable ([BusMessage], [Delivery]) async throws -> Void

    public init(_ commit: @escaping @Sendable ([BusMessage], [Delivery]) async throws -> Void) {
        self.commit = commit
    }

    /// Published on the bus, with the acknowledgements.
    public static func bus(_ bus: any Transport) -> MessageSink {
        MessageSink { messages, inputs in try await bus.publish(messages, acknowledging: inputs) }
    }
}
