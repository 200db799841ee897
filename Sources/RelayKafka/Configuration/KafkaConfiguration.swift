/// What every Kafka client needs: where the brokers are, who it is, and any librdkafka property as is.
///
/// `properties` are passed to librdkafka unchanged and win over the typed fields, so `security.protocol`,
/// `sasl.mechanisms`, `sasl.username`, `ssl.ca.location` and every other librdkafka setting work as documented
/// in librdkafka's CONFIGURATION.md.
public struct KafkaClientConfiguration: Sendable, Equatable {
    /// `host:port` of one or more brokers (`bootstrap.servers`).
    public var bootstrapServers: [String] = ["127.0.0.1:9092"]
    /// `client.id`, shown in broker logs and metrics.
    public var clientID: String = "relay"
    /// Raw librdkafka properties (`"security.protocol": "SASL_SSL"`, …), applied last.
    public var properties: [String: String] = [:]

    public init() {}

    public init(bootstrapServers: [String], clientID: String = "relay", properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.properties = properties
    }

    func librdkafkaProperties() -> [(String, String)] {
        [("bootstrap.servers", bootstrapServers.joined(separator: ",")), ("client.id", clientID)]
    }
}

/// A producer's settings. The defaults favour no loss and no duplicates from retries: idempotence on (which
/// implies `acks=all`), a short linger so that bursts are batched.
public struct KafkaProducerConfiguration: Sendable, Equatable {
    public var client = KafkaClientConfiguration()
    /// `enable.idempotence`: retries never duplicate or reorder messages within a partition.
    public var idempotent = true
    /// `linger.ms`: how long to wait for more messages before sending a batch.
    public var lingerMilliseconds = 5
    /// `max.in.flight.requests.per.connection`: produce requests a broker connection may have unanswered; nil
    /// leaves librdkafka's default (5 with idempotence).
    public var maxInFlightRequests: Int?
    /// `queue.buffering.max.messages`: messages waiting in librdkafka before `send` waits for room.
    public var queueLimit = 100_000
    /// `message.timeout.ms`: how long librdkafka keeps retrying one message before its delivery fails.
    public var messageTimeoutMilliseconds = 300_000
    /// `compression.type` (none, gzip, snappy, lz4, zstd).
    public var compression = "none"

    public init() {}

    public init(client: KafkaClientConfiguration) { self.client = client }

    func librdkafkaProperties() -> [(String, String)] {
        client.librdkafkaProperties() + [
            ("enable.idempotence", idempotent ? "true" : "false"),
            ("linger.ms", String(lingerMilliseconds)),
            ("queue.buffering.max.messages", String(queueLimit)),
            ("message.timeout.ms", String(messageTimeoutMilliseconds)),
            ("compression.type", compression),
        ] + (maxInFlightRequests.map { [("max.in.flight.requests.per.connection", String($0))] } ?? [])
            + client.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// A group consumer's settings. Offsets are never committed automatically: the consumer commits the contiguous
/// prefix of acknowledged messages of each partition.
public struct KafkaConsumerConfiguration: Sendable, Equatable {
    public var client = KafkaClientConfiguration()
    /// `group.id`.
    public var groupID = "relay"
    /// `partition.assignment.strategy`; cooperative-sticky moves only the partitions that must move.
    public var assignmentStrategy = "cooperative-sticky"
    /// `session.timeout.ms`: a member silent this long leaves the group.
    public var sessionTimeoutMilliseconds = 10_000
    /// `heartbeat.interval.ms`.
    public var heartbeatIntervalMilliseconds = 1_000
    /// `max.poll.interval.ms`. The consumer keeps polling while its buffer is full, so slow processing never
    /// makes it leave the group.
    public var maxPollIntervalMilliseconds = 300_000
    /// `auto.offset.reset` for a group with no committed offset: earliest (nothing published before the group
    /// existed is skipped) or latest.
    public var autoOffsetReset = "earliest"
    /// Messages fetched but not yet taken by the application; at it the consumer stops taking more from
    /// librdkafka (whose prefetch is bounded by `queued.max.messages.kbytes`).
    public var bufferLimit = 10_000
    /// How often acknowledged offsets are committed (they are also committed on revoke and on close).
    public var commitIntervalMilliseconds = 200
    /// `fetch.wait.max.ms`: the longest a broker may hold a fetch that found nothing new. Apache Kafka answers a
    /// held fetch as soon as a message arrives, so there this only sets how often an idle consumer asks again
    /// (20 times a second per broker at 50 ms); a broker that holds every fetch to its end (Tansu, the test broker)
    /// adds up to this much to every hop. librdkafka's 500 ms made a 4-step run take about a second there; 50 ms
    /// keeps a hop within tens of milliseconds without flooding the brokers with idle fetches (docs/kafka.md,
    /// *Latency*). A `fetch.wait.max.ms` in the client's properties wins.
    public var fetchWaitMaxMilliseconds = 50

    public init() {}

    public init(client: KafkaClientConfiguration, groupID: String) {
        self.client = client
        self.groupID = groupID
    }

    func librdkafkaProperties() -> [(String, String)] {
        client.librdkafkaProperties() + [
            ("group.id", groupID),
            ("partition.assignment.strategy", assignmentStrategy),
            ("session.timeout.ms", String(sessionTimeoutMilliseconds)),
            ("heartbeat.interval.ms", String(heartbeatIntervalMilliseconds)),
            ("max.poll.interval.ms", String(maxPollIntervalMilliseconds)),
            ("auto.offset.reset", autoOffsetReset),
            ("fetch.wait.max.ms", String(fetchWaitMaxMilliseconds)),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
        ] + client.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
