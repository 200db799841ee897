import RelayKafka
import RelayStore
import RelayTransport

/// The gauges of state kept elsewhere, read when `/metrics` is served.
extension PipelineMetrics {
    /// `relay_scheduled_retries` and `relay_dead_letters_stored`, counted in the run store.
    public func observe(store: SQLRunStore) {
        collect {
            var readings: [GaugeReading] = []
            if let retries = try? await store.scheduledRetries() {
                readings.append(GaugeReading(Name.scheduledRetries, [], Double(retries)))
            }
            if let stored = try? await store.storedDeadLetters() {
                readings.append(GaugeReading(Name.storedDeadLetters, [], Double(stored)))
            }
            return readings
        }
    }

    /// `relay_backlog_messages{group, topic}` on the embedded bus: messages past each group's committed position.
    public func observe(bus: EmbeddedBus) {
        collect { Self.readings((try? await bus.backlog()) ?? []) }
    }

    /// `relay_backlog_messages{group, topic}` on Kafka (the lag of the process's groups, Kafka's names) and
    /// `relay_kafka_assigned_partitions{group, topic}`.
    public func observe(kafka transport: KafkaTransport) {
        observeAssignedPartitions { transport.assignedPartitions }
        collect { Self.readings(await transport.backlog()) }
    }

    private static func readings(_ backlog: [ConsumerBacklog]) -> [GaugeReading] {
        backlog.map { GaugeReading(Name.backlog, [("group", $0.group), ("topic", $0.topic)], Double($0.messages)) }
    }
}
