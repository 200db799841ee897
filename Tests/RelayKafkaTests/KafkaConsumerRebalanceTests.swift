import Testing

@testable import RelayKafka

/// The consumer's bookkeeping across a rebalance that happens in the middle of a turn of its poll loop: librdkafka
/// runs the rebalance callback inside one of the turn's polls, after the turn has already collected messages.
/// Each test replays the calls the loop makes, in the loop's order, on the loop's state.
@Suite struct KafkaConsumerRebalanceTests {
    let partition = KafkaTopicPartition(topic: "orders", partition: 0)
    let other = KafkaTopicPartition(topic: "orders", partition: 1)

    @Test func nothingFetchedBeforeARevokeIsHandedOutWhenThePartitionComesBackInTheSameTurn() throws {
        var state = KafkaConsumerLoop.State()
        state.assign([partition])
        // An earlier turn: 0..<10 handed out, 0..<5 acknowledged.
        _ = state.record(messages(partition, 0..<10))
        #expect(state.takeAll().map(\.offset) == Array(0..<10))
        for offset: Int64 in 0..<5 { _ = state.partitions[partition]?.acknowledge(offset) }

        // This turn collects 10..<20; a later poll of the turn runs the callback: revoked (offset 5 committed),
        // then assigned to this member again, and librdkafka fetches from the committed offset, 5.
        var turn = messages(partition, 10..<20)
        state.revoke([partition])
        state.assign([partition])
        state.discardRevoked(from: &turn)
        turn += messages(partition, 5..<8)
        _ = state.record(turn)

        #expect(state.buffer.map(\.offset) == [5, 6, 7], "only what the new assignment fetched is handed out")
        // The application acknowledges the first message it is handed: the commit never passes an unacknowledged
        // offset (had 10 come first, the commit would skip 5..<10, never processed).
        let handed = state.takeAll()
        let first = try #require(handed.first)
        _ = state.partitions[partition]?.acknowledge(first.offset)
        #expect(state.partitions[partition]?.committable == 6)
        for message in handed.dropFirst() { _ = state.partitions[partition]?.acknowledge(message.offset) }
        let progress = try #require(state.partitions[partition])
        #expect(progress.committable == 8)
        #expect(progress.delivered.isEmpty)
    }

    @Test func aRevokeInTheMiddleOfATurnDropsOnlyTheRevokedPartitionsMessages() {
        var state = KafkaConsumerLoop.State()
        state.assign([partition, other])
        // Buffered from an earlier turn, not taken yet.
        _ = state.record(messages(partition, 0..<2) + messages(other, 0..<2))
        var turn = messages(partition, 2..<4) + messages(other, 2..<4)
        state.revoke([other]) // cooperative: only `other` leaves
        state.discardRevoked(from: &turn)
        turn += messages(partition, 4..<6)
        _ = state.record(turn)

        #expect(state.buffer.allSatisfy { $0.partition == partition.partition })
        #expect(state.buffer.map(\.offset) == Array(0..<6), "the partition kept loses nothing")
        #expect(state.partitions[other] == nil)
    }

    @Test func aRevokeSeenOnceDoesNotDropLaterMessagesOfTheSamePartition() {
        var state = KafkaConsumerLoop.State()
        state.assign([partition])
        var turn = messages(partition, 0..<3)
        state.revoke([partition])
        state.discardRevoked(from: &turn)
        state.assign([partition])
        turn += messages(partition, 0..<3) // fetched again under the new assignment
        state.discardRevoked(from: &turn) // a later poll of the turn that ran the callback, with no revoke
        _ = state.record(turn)
        #expect(state.buffer.map(\.offset) == [0, 1, 2])
    }

    private func messages(_ partition: KafkaTopicPartition, _ offsets: Range<Int64>) -> [KafkaConsumerMessage] {
        offsets.map {
            KafkaConsumerMessage(
                topic: partition.topic, partition: partition.partition, offset: $0, key: nil, value: [], headers: [],
                timestamp: nil)
        }
    }
}

extension KafkaConsumerLoop.State {
    /// What the application takes with `next()`.
    fileprivate mutating func takeAll() -> [KafkaConsumerMessage] {
        defer { buffer.removeAll() }
        return Array(buffer)
    }
}
