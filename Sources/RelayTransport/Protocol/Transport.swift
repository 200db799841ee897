import RelayCore

/// A message on the bus.
public struct BusMessage: Sendable, Equatable {
    public var topic: String
    /// Messages with the same key keep their order (Kafka: the same partition).
    public var key: String
    /// (A message whose bytes change no longer keeps what they were written from.)
    public var value: [UInt8] { didSet { local = nil } }
    public var headers: [String: String]
    /// What `value` was written from, as the process that wrote it kept it (`init(topic:key:json:keeping:)`): a
    /// consumer in the same process that knows its type uses it instead of reading `value` (the embedded bus's
    /// hand-off passes it on). Never stored nor sent, and not compared: a message read from the table or the broker
    /// has none.
    public var local: (any Sendable)?

    public init(topic: String, key: String, value: [UInt8], headers: [String: String] = [:]) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// `json` encoded; `keeping`: what it was made from, kept with the message (`local`) when the encoding is at
    /// most `keptLocalLimit` bytes (a larger one is read again where it is consumed: its values would take several
    /// times its bytes in memory wherever the message waits).
    public init(
        topic: String, key: String, json: JSONValue, headers: [String: String] = [:], keeping: (any Sendable)? = nil
    ) {
        self.init(topic: topic, key: key, value: JSONWriter.compact.bytes(json), headers: headers)
        if let keeping, value.count <= Self.keptLocalLimit { self.local = keeping }
    }

    /// The largest encoding whose values a message keeps (`init(topic:key:json:keeping:)`).
    public static let keptLocalLimit = 16 << 10

    public static func == (lhs: BusMessage, rhs: BusMessage) -> Bool {
        lhs.topic == rhs.topic && lhs.key == rhs.key && lhs.value == rhs.value && lhs.headers == rhs.headers
    }
}

/// A message handed to a consumer, to be acknowledged once everything it caused is durable.
public struct Delivery: Sendable, Equatable {
    public var message: BusMessage
    /// The position in the topic (Kafka: in the partition).
    public var offset: Int64
    public var partition: Int
    /// Which group received it.
    public var group: String
    /// Which subscription of the transport received it (Kafka: one consumer per subscription).
    public var subscriber: UInt64

    public init(message: BusMessage, offset: Int64, partition: Int = 0, group: String, subscriber: UInt64 = 0) {
        self.message = message
        self.offset = offset
        self.partition = partition
        self.group = group
        self.subscriber = subscriber
    }
}

/// What the pipeline is written against: the embedded bus and Kafka implement it.
///
/// Delivery is at least once: a delivery that is not acknowledged is delivered again (after a crash, or when its
/// consumer leaves the group). A group commits the contiguous prefix of acknowledged offsets, never ahead of work
/// in flight.
public protocol Transport: Sendable {
    /// Publishes messages durably (returns once they are stored).
    func publish(_ messages: [BusMessage]) async throws

    /// Publishes `messages`, then acknowledges `deliveries`. Used by the consume → produce steps of the pipeline.
    ///
    /// On the embedded bus both happen atomically, in one SQLite transaction. On Kafka they do not: the messages
    /// are produced (idempotently, so a producer retry never duplicates one within a partition) and, once the
    /// broker has acknowledged every one of them, the deliveries are marked acknowledged; their offsets are
    /// committed afterwards by the consumer (the contiguous acknowledged prefix, every commit interval and when
    /// partitions are revoked). Neither the batch of messages nor the publish-then-commit pair is atomic there: a
    /// failure or crash can leave some messages stored and the inputs uncommitted. That is at-least-once safe
    /// because the order is fixed: an input's offset is never committed before its output is stored, so a crash
    /// only makes the input come again and its output be published again, and the pipeline's deterministic ids
    /// (event ids, `runId/stepId/attempt`) make the repeat a no-op downstream. See docs/kafka.md.
    func publish(_ messages: [BusMessage], acknowledging deliveries: [Delivery]) async throws

    /// Consumes `topic` as a member of `group`, from the group's committed position.
    func subscribe(topic: String, group: String) async throws -> any BusSubscription
}

/// A stream of deliveries for one group member.
public protocol BusSubscription: Sendable {
    /// The next delivery; nil when the subscription was closed.
    func next() async throws -> Delivery?
    /// The next delivery and whatever else is already waiting, up to `maximum` (at least one; empty when the
    /// subscription was closed). Lets a consumer handle a burst with one `publish(_:acknowledging:)` (one
    /// transaction on the embedded bus).
    func nextBatch(maximum: Int) async throws -> [Delivery]
    /// Marks a delivery processed.
    func acknowledge(_ delivery: Delivery) async throws
    /// Stops delivering; deliveries not yet acknowledged will be delivered again to the group.
    func close() async
}

extension BusSubscription {
    public func nextBatch(maximum: Int) async throws -> [Delivery] {
        guard let first = try await next() else { return [] }
        return [first]
    }
}
