import Logging
import RelayStore
import RelayTransport
import ServiceLifecycle

/// What runs beside the dispatcher over its run store (`relay up`, `relay dispatcher`): the dead-letter keeper
/// (`relay.dlq` into the store) and the event retention (the events' payloads past it dropped).
///
/// Shutdown: both stop on cancellation; each finishes the store transaction it is in first.
public struct RunStoreUpkeep: Sendable {
    public let keeper: DeadLetterKeeper
    public let retention: EventRetention

    public init(
        bus: any Transport, store: any RunStore, configuration: Dispatcher.Configuration = .init(),
        logger: Logger = Logger(label: "relay")
    ) {
        keeper = DeadLetterKeeper(bus: bus, store: store, logger: logger)
        retention = EventRetention(store: store, retention: configuration.eventRetention, logger: logger)
    }

    /// For a service group.
    func components(logger: Logger?) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let (keeper, retention) = (keeper, retention)
        return [
            .init(service: PipelineComponent(name: "dead-letter keeper", logger: logger) { try await keeper.run() }),
            .init(service: PipelineComponent(name: "event retention", logger: logger) { try await retention.run() }),
        ]
    }

    /// Runs both until cancelled; one that fails ends the other.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await keeper.run() }
            group.addTask { try await retention.run() }
            defer { group.cancelAll() }
            while try await group.next() != nil {}
        }
    }
}
