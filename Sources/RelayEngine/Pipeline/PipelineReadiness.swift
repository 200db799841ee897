import RelayKafka
import RelayStore
import RelayTransport

/// What `/readyz` checks in a pipeline process: each check returns the reasons it is not ready (none: ready).
public struct PipelineReadiness: Sendable {
    private let checks: [@Sendable () async -> [String]]

    public init(_ checks: [@Sendable () async -> [String]] = []) { self.checks = checks }

    /// Every reason the process is not ready, in the order of the checks; empty when it is ready.
    public func reasons() async -> [String] {
        var reasons: [String] = []
        for check in checks { reasons += await check() }
        return reasons
    }

    /// The process answers when its run store does (a cheap query).
    public static func store(_ store: SQLRunStore) -> @Sendable () async -> [String] {
        {
            await store.isReachable() ? [] : ["the run store (\(store.database.location)) does not answer"]
        }
    }

    /// The embedded bus answers a cheap query.
    public static func bus(_ bus: EmbeddedBus) -> @Sendable () async -> [String] {
        {
            await bus.isReachable() ? [] : ["the embedded bus (\(bus.database.path)) does not answer"]
        }
    }

    /// The Kafka cluster answers (within `timeout`), and every consumer group of the process has joined (each of
    /// its members has been given an assignment at least once): those it consumes in now, and `groups` (logical
    /// names), which its services subscribe to when they start.
    public static func kafka(_ transport: KafkaTransport, groups: [String], timeout: Duration = .seconds(2))
        -> @Sendable () async -> [String]
    {
        {
            var reasons: [String] = []
            if !(await transport.isReachable(timeout: timeout)) {
                reasons.append("the Kafka cluster does not answer within \(timeout)")
            }
            reasons += transport.joiningGroups(expecting: groups).map {
                "consumer group \($0) has not joined yet (no assignment)"
            }
            return reasons
        }
    }
}
