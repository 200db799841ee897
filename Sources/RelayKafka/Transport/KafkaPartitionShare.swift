/// How many partitions of a topic this process's member of a consumer group owns now (`KafkaTransport`'s
/// `assignedPartitions`; `relay_kafka_assigned_partitions` at a pipeline process's `/metrics`).
public struct KafkaPartitionShare: Sendable, Hashable {
    /// Kafka's names, with the transport's topic prefix.
    public var group: String
    public var topic: String
    public var partitions: Int

    public init(group: String, topic: String, partitions: Int) {
        self.group = group
        self.topic = topic
        self.partitions = partitions
    }

    struct Key: Hashable {
        var group: String
        var topic: String
    }
}
