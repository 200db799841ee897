import DequeModule

/// The consumer's bookkeeping, changed under the loop's lock: by the rebalance callback (`assign`, `revoke`) and by
/// the poll loop (`discardRevoked`, `record`), both on the poll thread.
extension KafkaConsumerLoop.State {
    typealias Handed = (waiter: CheckedContinuation<KafkaConsumerMessage?, any Error>, message: KafkaConsumerMessage)

    /// The group assigned `partitions`: each starts afresh (librdkafka fetches from its committed offset).
    mutating func assign(_ assigned: [KafkaTopicPartition]) {
        for partition in assigned { partitions[partition] = PartitionProgress() }
    }

    /// The group revoked `revoked` (their acknowledged prefix is committed already): forget their progress and
    /// drop their messages not handed out yet, those buffered now and those the poll loop's current turn has
    /// collected (`discardRevoked(from:)`). Their new owner, possibly this member again, gets them from the
    /// committed offset.
    mutating func revoke(_ revoked: Set<KafkaTopicPartition>) {
        for partition in revoked { partitions[partition] = nil }
        buffer.removeAll { revoked.contains(KafkaTopicPartition(topic: $0.topic, partition: $0.partition)) }
        revokedInTurn.formUnion(revoked)
    }

    /// Drops from a turn's collection (messages fetched, not yet recorded) those of partitions revoked since the
    /// last call. The poll loop calls it after every poll that ran the rebalance callback, before it adds what
    /// that poll returned.
    mutating func discardRevoked(from collected: inout [KafkaConsumerMessage]) {
        guard !revokedInTurn.isEmpty else { return }
        let revoked = revokedInTurn
        revokedInTurn.removeAll()
        collected.removeAll { revoked.contains(KafkaTopicPartition(topic: $0.topic, partition: $0.partition)) }
    }

    /// Records a turn's messages as delivered, in order, and hands each to a waiter or the buffer; messages of
    /// partitions this member does not own are dropped. Returns the waiters to resume (outside the lock) and the
    /// offsets the broker skipped.
    mutating func record(
        _ messages: [KafkaConsumerMessage]
    ) -> (handed: [Handed], gaps: [(KafkaTopicPartition, Range<Int64>)]) {
        var handed: [Handed] = []
        var gaps: [(KafkaTopicPartition, Range<Int64>)] = []
        // Messages come in runs of one partition: look the partition up once per run.
        var current: (partition: KafkaTopicPartition, index: Dictionary<KafkaTopicPartition, PartitionProgress>.Index?)?
        for message in messages {
            if current?.partition.partition != message.partition || current?.partition.topic != message.topic {
                let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
                current = (partition, partitions.index(forKey: partition))
            }
            guard let owned = current, let index = owned.index else { continue } // not ours (any more)
            if let gap = partitions.values[index].deliver(message.offset) {
                gaps.append((owned.partition, gap))
            }
            if let waiter = waiters.popFirst() {
                handed.append((waiter.continuation, message))
            } else {
                buffer.append(message)
            }
        }
        return (handed, gaps)
    }
}
