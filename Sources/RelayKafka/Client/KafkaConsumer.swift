import CRdKafka
import DequeModule
import Logging
import Synchronization

/// A member of a consumer group. Messages arrive through `next()` / `messages` (an `AsyncSequence`); the
/// application acknowledges each message once everything it caused is durable, and the consumer commits, per
/// partition, the offset after the contiguous prefix of acknowledged messages: never ahead of work in flight.
///
/// Rebalancing is cooperative-sticky by default. When partitions are revoked, the consumer commits their
/// acknowledged prefix, drops their messages that were fetched but not yet taken, and ignores later
/// acknowledgements for them (the new owner gets everything after the committed offset). When `bufferLimit`
/// messages wait to be taken, the consumer stops draining librdkafka's queue (which bounds its own prefetch) but
/// still polls every 250 ms, so slow work never makes it leave the group.
///
/// Shutdown: `close()` stops intake, commits what was acknowledged, leaves the group (librdkafka's
/// consumer close) and ends `next()` with nil. Call it after the work in flight is acknowledged.
public final class KafkaConsumer: Sendable {
    private let loop: KafkaConsumerLoop
    private let poller: PollThread
    public let configuration: KafkaConsumerConfiguration

    /// Creates the consumer and subscribes it to `topics`. Bad configuration throws `.configuration` here.
    public init(
        configuration: KafkaConsumerConfiguration, topics: [String],
        logger: Logger = Logger(label: "relay.kafka.consumer")
    ) throws {
        self.configuration = configuration
        let loop = try KafkaConsumerLoop(configuration: configuration, topics: topics, logger: logger)
        self.loop = loop
        poller = PollThread(name: "relay-kafka-consumer") { stopping in loop.step(stopping: stopping) }
    }

    deinit {
        // Not closed: the poll thread still leaves the group (it owns the loop until then).
        poller.requestStop()
    }

    /// The next message; nil once the consumer is closed. Throws if the client failed for good.
    public func next() async throws -> KafkaConsumerMessage? { try await loop.next() }

    /// The next message and up to `maximum - 1` more that are already waiting; empty once closed.
    public func nextBatch(maximum: Int) async throws -> [KafkaConsumerMessage] {
        guard let first = try await loop.next() else { return [] }
        return [first] + loop.takeWaiting(maximum - 1)
    }

    /// Marks a message processed; its offset is committed once every earlier message of its partition is too.
    public func acknowledge(_ message: KafkaConsumerMessage) {
        loop.acknowledge(KafkaTopicPartition(topic: message.topic, partition: message.partition), message.offset)
    }

    /// Marks messages processed (one lock for all).
    public func acknowledge(_ messages: [KafkaConsumerMessage]) {
        loop.acknowledge(messages.map { (KafkaTopicPartition(topic: $0.topic, partition: $0.partition), $0.offset) })
    }

    /// Marks the message at `offset` of a partition processed.
    public func acknowledge(topic: String, partition: Int32, offset: Int64) {
        loop.acknowledge(KafkaTopicPartition(topic: topic, partition: partition), offset)
    }

    /// Stops fetching from every assigned partition (also those assigned later) until `resume()`.
    public func pause() { loop.setUserPaused(true) }
    public func resume() { loop.setUserPaused(false) }

    /// The partitions this member owns now.
    public var assignment: Set<KafkaTopicPartition> { loop.assignment }

    /// The partitions this member owns now, then again each time a rebalance changes them: from the rebalance
    /// callback, after an assignment and, on a revocation, before the partitions are released to the group (so
    /// what depends on owning them can stop before the next owner gets them). Only the latest assignment is kept
    /// for a slow reader. Ends, after an empty assignment, when the consumer is closed or fails.
    public func assignmentChanges() -> AsyncStream<Set<KafkaTopicPartition>> { loop.assignmentChanges() }

    /// Whether this member has joined its group: the group has given it an assignment at least once.
    public var hasJoined: Bool { loop.hasJoined }

    /// Commits, leaves the group and ends the message stream. Unacknowledged messages go to the group again.
    public func close() async { await poller.stop() }

    /// The messages as an `AsyncSequence`.
    public var messages: Messages { Messages(consumer: self) }

    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = KafkaConsumerMessage
        let consumer: KafkaConsumer

        public struct AsyncIterator: AsyncIteratorProtocol {
            let consumer: KafkaConsumer
            public mutating func next() async throws -> KafkaConsumerMessage? { try await consumer.next() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
    }
}

/// Progress of one owned partition: offsets handed out (or buffered) in order, which of them are acknowledged,
/// and the next offset to commit.
struct PartitionProgress {
    var delivered = Deque<Int64>()
    var acknowledged = Set<Int64>()
    /// The offset after the contiguous acknowledged prefix.
    var committable: Int64?
    /// What this member last sent to the group coordinator.
    var committed: Int64?
    /// The last offset handed out since the partition was assigned.
    var lastDelivered: Int64?

    /// Records a message fetched; returns the offsets skipped since the previous one, if any. Relay's producers are
    /// idempotent, not transactional, and its topics are not compacted, so on its topics a gap means the broker
    /// never returned messages it had acknowledged (Tansu did, docs/kafka.md): worth a line in the log.
    mutating func deliver(_ offset: Int64) -> Range<Int64>? {
        delivered.append(offset)
        defer { lastDelivered = offset }
        guard let last = lastDelivered, offset > last + 1 else { return nil }
        return (last + 1)..<offset
    }

    mutating func acknowledge(_ offset: Int64) -> Bool {
        if offset == delivered.first && acknowledged.isEmpty { // in order: the common case
            delivered.removeFirst()
            committable = offset + 1
            return true
        }
        guard isDelivered(offset) else { return false }
        acknowledged.insert(offset)
        var moved = false
        while let first = delivered.first, acknowledged.remove(first) != nil {
            delivered.removeFirst()
            committable = first + 1
            moved = true
        }
        return moved
    }
}

extension PartitionProgress {
    /// Binary search: delivered offsets are increasing.
    func isDelivered(_ offset: Int64) -> Bool {
        var low = delivered.startIndex
        var high = delivered.endIndex
        while low < high {
            let middle = (low + high) / 2
            if delivered[middle] == offset { return true }
            if delivered[middle] < offset { low = middle + 1 } else { high = middle }
        }
        return false
    }
}
