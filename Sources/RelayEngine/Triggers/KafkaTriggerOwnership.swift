import Logging
import RelayCore
import RelayKafka

/// Trigger instances shared among trigger hosts by Kafka's group protocol: every host is a member of the consumer
/// group `relay.trigger-hosts` on the topic `relay.trigger-owners`, which carries no messages; its partitions stand
/// for the instances. Instance `id` belongs to partition `StableHash.fnv1a(id) % partitions` (FNV-1a of its UTF-8
/// bytes: the same on every host and every run), and a host runs the instances of the partitions the group assigns
/// it. When a host leaves (SIGTERM) its partitions move at the next rebalance; when it dies, once the group has not
/// heard from it for the session timeout (`Configuration.sessionTimeoutMilliseconds`, 6 s by default). See
/// docs/kafka.md, *Trigger hosts*.
///
/// A revocation is announced from the consumer's rebalance callback before the partitions are released to the
/// group, and the trigger host stops their instances on that announcement; an instance that fires in the moment
/// both hosts run it sends an event the dispatcher already has (event ids derived from the trigger's position).
///
/// Shutdown: `leave()` (or closing the transport) leaves the group; this host then owns nothing.
public final class KafkaTriggerOwnership: TriggerOwnership {
    public static let topic = "relay.trigger-owners"
    public static let group = "relay.trigger-hosts"

    public struct Configuration: Sendable, Equatable {
        /// `session.timeout.ms` of the group: how long a host that stopped answering keeps its instances. 6 s is
        /// Apache Kafka's smallest by default (`group.min.session.timeout.ms`); with the rebalance that follows, a
        /// dead host's instances run elsewhere within about 10 s.
        public var sessionTimeoutMilliseconds = 6_000
        /// `heartbeat.interval.ms`.
        public var heartbeatIntervalMilliseconds = 1_000
        public init() {}
    }

    let consumer: KafkaConsumer
    /// Kafka's name of the topic (with the installation's prefix).
    let kafkaTopic: String
    /// The topic's partitions when this host joined.
    public let partitions: Int

    init(consumer: KafkaConsumer, kafkaTopic: String, partitions: Int) {
        self.consumer = consumer
        self.kafkaTopic = kafkaTopic
        self.partitions = partitions
    }

    /// Joins the trigger hosts' group on `transport` (creating the topic if it is missing, as declared in the
    /// transport's topics or with its default partitions). The membership is the transport's: closing the transport
    /// leaves the group too.
    public static func join(
        _ transport: KafkaTransport, configuration: Configuration = Configuration()
    ) async throws -> KafkaTriggerOwnership {
        let partitions = try await transport.partitionCount(of: topic)
        let consumer = try await transport.groupMember(
            topic: topic, group: group, sessionTimeoutMilliseconds: configuration.sessionTimeoutMilliseconds,
            heartbeatIntervalMilliseconds: configuration.heartbeatIntervalMilliseconds)
        // Nothing to read: no fetch requests for its partitions, only the group's heartbeats and rebalances.
        consumer.pause()
        return KafkaTriggerOwnership(
            consumer: consumer, kafkaTopic: transport.configuration.topicPrefix + topic, partitions: partitions)
    }

    /// The partition instance `instance` belongs to, among `partitions`.
    public static func partition(of instance: String, among partitions: Int) -> Int {
        Int(StableHash.fnv1a(instance) % UInt64(max(partitions, 1)))
    }

    /// The partitions of `relay.trigger-owners` this host is assigned now.
    public var ownedPartitions: Set<Int> {
        Set(consumer.assignment.filter { $0.topic == kafkaTopic }.map { Int($0.partition) })
    }

    /// Whether this host has joined the group (it owns nothing before).
    public var hasJoined: Bool { consumer.hasJoined }

    public func owns(_ instance: String) -> Bool {
        let partition = Int32(Self.partition(of: instance, among: partitions))
        return consumer.assignment.contains(KafkaTopicPartition(topic: kafkaTopic, partition: partition))
    }

    public func changes() -> any AsyncSequence<Void, Never> {
        consumer.assignmentChanges().map { _ in () }
    }

    /// Leaves the group at once: this host's instances stop and the others' rebalance gives them to other hosts.
    public func leave() async { await consumer.close() }
}
