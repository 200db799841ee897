import Logging
import RelayTransport
import Synchronization

/// Settings of the Kafka bus: the client settings every producer and consumer shares, group tuning, and the
/// topics it may create.
public struct KafkaTransportConfiguration: Sendable, Equatable {
    public var client = KafkaClientConfiguration()
    /// Topics the transport creates, as declared, when it first uses one that does not exist
    /// (`relay topics apply` does the same up front).
    public var topics: [TopicDeclaration] = []
    /// Partitions of a topic that is used but neither exists nor is declared; 0 disables creating it.
    public var defaultPartitions = 6
    public var sessionTimeoutMilliseconds = 10_000
    public var heartbeatIntervalMilliseconds = 1_000
    public var maxPollIntervalMilliseconds = 300_000
    public var bufferLimit = 10_000
    public var commitIntervalMilliseconds = 200
    /// Put before every topic name and consumer group id on the broker, so that several Relay installations
    /// (staging and production, or parallel tests) share one cluster without seeing each other's messages.
    /// Inside Relay names stay logical (`relay.events`): deliveries carry the name without the prefix.
    public var topicPrefix = ""
    /// The producer's `linger.ms`. 0: every publish of the pipeline waits for its acknowledgement, so waiting for
    /// more messages only adds latency to each hop; batches still form from what is published together (and what
    /// queues while a request is in flight). A `linger.ms` in the client's properties wins.
    public var lingerMilliseconds = 0
    /// The producer's `max.in.flight.requests.per.connection`. 1: while a produce request is unanswered, what is
    /// published meanwhile queues and goes in the next request, so a burst sends fewer, larger requests (a
    /// `relay bench --brokers` burst: +12 % steps/s, the broker's CPU per step down, docs/benchmarks.md), and an idle
    /// pipeline sends each publish at once as before (no added latency: linger stays 0). A
    /// `max.in.flight.requests.per.connection` in the client's properties wins.
    public var maxInFlightRequests = 1

    public init() {}

    public init(client: KafkaClientConfiguration) { self.client = client }
}

/// The bus protocol on Kafka: `publish` produces with the idempotent producer and returns once every message is
/// acknowledged by the broker; each subscription is one consumer in the group.
///
/// `publish(_:acknowledging:)` publishes, then acknowledges: at least once. A crash between the two makes the
/// input come again, and the pipeline's deterministic ids (event ids, `runId/stepId/attempt`) turn the repeated
/// output into a no-op downstream. See docs/kafka.md.
///
/// Shutdown: `close()` closes every open subscription (commit, leave the group), then flushes the producer.
public final class KafkaTransport: Transport, Sendable {
    public let configuration: KafkaTransportConfiguration
    private let producer: KafkaProducer
    private let admin: KafkaAdmin
    private let logger: Logger
    private let subscriptions = Mutex<[UInt64: KafkaSubscription]>([:])
    private let nextSubscriber = Atomic<UInt64>(1)
    private let knownTopics = Mutex<Set<String>>([])

    public init(configuration: KafkaTransportConfiguration, logger: Logger = Logger(label: "relay.kafka")) throws {
        self.configuration = configuration
        self.logger = logger
        producer = try KafkaProducer(configuration: Self.producerConfiguration(configuration), logger: logger)
        admin = try KafkaAdmin(configuration: configuration.client, logger: logger)
    }

    /// The pipeline's producer: the bus's client settings, its linger and requests in flight.
    static func producerConfiguration(_ configuration: KafkaTransportConfiguration) -> KafkaProducerConfiguration {
        var producer = KafkaProducerConfiguration(client: configuration.client)
        producer.lingerMilliseconds = configuration.lingerMilliseconds
        producer.maxInFlightRequests = configuration.maxInFlightRequests
        return producer
    }

    public func publish(_ messages: [BusMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await ensureTopics(Set(messages.map(\.topic)))
        let prefix = configuration.topicPrefix
        _ = try await producer.send(messages.map { Self.producerMessage($0, prefix: prefix) })
    }

    public func publish(_ messages: [BusMessage], acknowledging deliveries: [Delivery]) async throws {
        try await publish(messages)
        for delivery in deliveries { acknowledge(delivery) }
    }

    public func subscribe(topic: String, group: String) async throws -> any BusSubscription {
        try await member(
            topic: topic, group: group, sessionTimeoutMilliseconds: configuration.sessionTimeoutMilliseconds,
            heartbeatIntervalMilliseconds: configuration.heartbeatIntervalMilliseconds)
    }

    /// A member of `group` subscribed to `topic` (logical names) with its own session timeout, for what the group's
    /// assignment decides rather than for messages (which trigger host runs which trigger instances). Like a
    /// subscription: `close()` closes it (it leaves the group), readiness waits for its join, `assignedPartitions`
    /// counts what it owns. Closing the consumer itself leaves the group at once.
    public func groupMember(
        topic: String, group: String, sessionTimeoutMilliseconds: Int, heartbeatIntervalMilliseconds: Int
    ) async throws -> KafkaConsumer {
        try await member(
            topic: topic, group: group, sessionTimeoutMilliseconds: sessionTimeoutMilliseconds,
            heartbeatIntervalMilliseconds: heartbeatIntervalMilliseconds
        ).consumer
    }

    /// The number of partitions of `topic` (a logical name), creating it first if it is missing.
    public func partitionCount(of topic: String) async throws -> Int {
        try await ensureTopics([topic])
        let name = configuration.topicPrefix + topic
        guard let description = try await admin.metadata([name])[name], description.partitions > 0 else {
            throw KafkaError(.admin, "topic \(name): expected partitions, found none in the cluster's metadata")
        }
        return description.partitions
    }

    private func member(
        topic: String, group: String, sessionTimeoutMilliseconds: Int, heartbeatIntervalMilliseconds: Int
    ) async throws -> KafkaSubscription {
        try await ensureTopics([topic])
        let prefix = configuration.topicPrefix
        var consumerConfiguration = KafkaConsumerConfiguration(client: configuration.client, groupID: prefix + group)
        consumerConfiguration.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        consumerConfiguration.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        consumerConfiguration.maxPollIntervalMilliseconds = configuration.maxPollIntervalMilliseconds
        consumerConfiguration.bufferLimit = configuration.bufferLimit
        consumerConfiguration.commitIntervalMilliseconds = configuration.commitIntervalMilliseconds
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, topics: [prefix + topic], logger: logger)
        let id = nextSubscriber.wrappingAdd(1, ordering: .relaxed).oldValue
        let subscription = KafkaSubscription(
            consumer: consumer, topic: prefix + topic, group: group, id: id, topicPrefix: prefix
        ) {
            [weak self] in
            _ = self?.subscriptions.withLock { $0.removeValue(forKey: id) }
        }
        subscriptions.withLock { $0[id] = subscription }
        return subscription
    }

    /// What the open subscriptions own now: per consumer group and topic (Kafka's names, with the prefix), the
    /// number of partitions, 0 for a member that has not joined its group yet or was given none. Sorted.
    public var assignedPartitions: [KafkaPartitionShare] {
        var shares: [KafkaPartitionShare.Key: Int] = [:]
        for subscription in subscriptions.withLock({ Array($0.values) }) {
            let key = KafkaPartitionShare.Key(
                group: subscription.consumer.configuration.groupID, topic: subscription.topic)
            let owned = subscription.consumer.assignment.filter { $0.topic == subscription.topic }.count
            shares[key, default: 0] += owned
        }
        return shares.map { KafkaPartitionShare(group: $0.key.group, topic: $0.key.topic, partitions: $0.value) }
            .sorted { ($0.group, $0.topic) < ($1.group, $1.topic) }
    }

    /// Whether the cluster answers a metadata request (brokers only) within `timeout`.
    public func isReachable(timeout: Duration = .seconds(2)) async -> Bool { await admin.isReachable(timeout: timeout) }

    /// The consumer groups (Kafka's names) that have not joined yet: those with a member (an open subscription) that
    /// has never had an assignment, and those of `expected` (logical names) with no open subscription yet. Sorted.
    public func joiningGroups(expecting expected: [String] = []) -> [String] {
        let members = subscriptions.withLock { Array($0.values) }
        let subscribed = Set(members.map(\.consumer.configuration.groupID))
        let waiting = members.filter { !$0.consumer.hasJoined }.map(\.consumer.configuration.groupID)
        let missing = expected.map { configuration.topicPrefix + $0 }.filter { !subscribed.contains($0) }
        return Set(waiting + missing).sorted()
    }

    /// Per consumer group and topic of the open subscriptions (Kafka's names), the lag from the group's committed
    /// offsets to the high watermarks. Each request to the cluster waits at most `timeout` (on a dispatch thread);
    /// a group whose lag cannot be read now is absent. Sorted.
    public func backlog(timeout: Duration = .seconds(2)) async -> [ConsumerBacklog] {
        var topicsByGroup: [String: Set<String>] = [:]
        for subscription in subscriptions.withLock({ Array($0.values) }) {
            topicsByGroup[subscription.consumer.configuration.groupID, default: []].insert(subscription.topic)
        }
        var backlog: [ConsumerBacklog] = []
        for (group, topics) in topicsByGroup.sorted(by: { $0.key < $1.key }) {
            do {
                let lag = try await admin.consumerLag(group: group, topics: topics.sorted(), timeout: timeout)
                backlog += lag.sorted { $0.key < $1.key }.map {
                    ConsumerBacklog(group: group, topic: $0.key, messages: $0.value)
                }
            } catch {
                logger.debug(
                    "kafka: the lag of a group could not be read: \(error)", metadata: ["kafka.group": "\(group)"])
            }
        }
        return backlog
    }

    /// Closes open subscriptions, then flushes and stops the producer.
    public func close() async {
        for subscription in subscriptions.withLock({ Array($0.values) }) { await subscription.close() }
        await producer.close()
        await admin.close()
    }

    private func acknowledge(_ delivery: Delivery) {
        subscriptions.withLock { $0[delivery.subscriber] }?.acknowledge(delivery)
    }

    /// Creates, once per process, the topics that do not exist yet: as declared, else with `defaultPartitions`.
    /// `topics` are logical names; the broker's carry the prefix.
    private func ensureTopics(_ topics: Set<String>) async throws {
        let unknown = knownTopics.withLock { topics.subtracting($0) }
        guard !unknown.isEmpty, configuration.defaultPartitions > 0 else { return }
        let prefix = configuration.topicPrefix
        let existing = try await admin.describeTopicNames(unknown.map { prefix + $0 })
        let missing = unknown.filter { !existing.contains(prefix + $0) }.sorted().map { name in
            (configuration.topics.first { $0.name == name }
                ?? TopicDeclaration(name: name, partitions: configuration.defaultPartitions)).prefixed(prefix)
        }
        for (name, outcome) in try await admin.createTopics(missing) {
            if case .failure(let error) = outcome { throw error }
            logger.info("kafka: created topic", metadata: ["kafka.topic": "\(name)"])
        }
        knownTopics.withLock { $0.formUnion(unknown) }
    }

    static func producerMessage(_ message: BusMessage, prefix: String) -> KafkaProducerMessage {
        KafkaProducerMessage(
            topic: prefix + message.topic, key: Array(message.key.utf8), value: message.value,
            headers: message.headers.sorted { $0.key < $1.key }.map { KafkaHeader($0.key, $0.value) })
    }
}

/// One consumer in a group, as a `BusSubscription`.
final class KafkaSubscription: BusSubscription, Sendable {
    let consumer: KafkaConsumer
    /// Kafka's name of the topic (with the prefix).
    let topic: String
    let group: String
    let id: UInt64
    let topicPrefix: String
    private let onClose: @Sendable () -> Void

    init(
        consumer: KafkaConsumer, topic: String, group: String, id: UInt64, topicPrefix: String,
        onClose: @escaping @Sendable () -> Void
    ) {
        self.consumer = consumer
        self.topic = topic
        self.group = group
        self.id = id
        self.topicPrefix = topicPrefix
        self.onClose = onClose
    }

    func next() async throws -> Delivery? {
        try await consumer.next().map(delivery)
    }

    func nextBatch(maximum: Int) async throws -> [Delivery] {
        try await consumer.nextBatch(maximum: maximum).map(delivery)
    }

    /// Synchronous (it only records the position), so the transport's publish-and-acknowledge calls it too.
    func acknowledge(_ delivery: Delivery) {
        consumer.acknowledge(
            topic: topicPrefix + delivery.message.topic, partition: Int32(delivery.partition), offset: delivery.offset)
    }

    func close() async {
        await consumer.close()
        onClose()
    }

    private func delivery(_ message: KafkaConsumerMessage) -> Delivery {
        var headers: [String: String] = [:]
        for header in message.headers { headers[header.name] = String(decoding: header.value, as: UTF8.self) }
        return Delivery(
            message: BusMessage(
                topic: message.topic.hasPrefix(topicPrefix)
                    ? String(message.topic.dropFirst(topicPrefix.count)) : message.topic,
                key: String(decoding: message.key ?? [], as: UTF8.self),
                value: message.value, headers: headers),
            offset: message.offset, partition: Int(message.partition), group: group, subscriber: id)
    }
}
