import CRdKafka
import DequeModule
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The consumer's state and its poll loop. Every librdkafka consumer call (poll, assign, pause, commit, close)
/// is made on the poll thread; the application's side (`next`, `acknowledge`, `pause`) only changes `state`.
final class KafkaConsumerLoop: Sendable {
    struct State {
        var buffer = Deque<KafkaConsumerMessage>()
        var waiters = Deque<(id: UInt64, continuation: CheckedContinuation<KafkaConsumerMessage?, any Error>)>()
        var nextWaiterID: UInt64 = 0
        var partitions: [KafkaTopicPartition: PartitionProgress] = [:]
        var userPaused = false
        var appliedPause = false
        var commitPending = false
        var failure: KafkaError?
        var finished = false
        /// Told the assignment after every rebalance (`assignmentChanges()`), by id.
        var observers: [UInt64: AsyncStream<Set<KafkaTopicPartition>>.Continuation] = [:]
        var nextObserverID: UInt64 = 0
        /// Partitions revoked since the poll loop last dropped their messages from its turn's collection.
        var revokedInTurn: Set<KafkaTopicPartition> = []
    }

    private let client: RDKafkaClient
    private let state = Mutex(State())
    private let bufferLimit: Int
    private let commitInterval: Duration
    private let cooperative: Bool
    /// Touched only on the poll thread.
    private let lastCommit = Mutex(ContinuousClock.now)
    /// Rebalance callbacks run so far. Counted by the callback and read by `step`, both on the poll thread (the
    /// callback runs inside `rd_kafka_consumer_poll`), so relaxed ordering is enough.
    private let rebalances = Atomic<UInt64>(0)

    init(configuration: KafkaConsumerConfiguration, topics: [String], logger: Logger) throws {
        bufferLimit = max(configuration.bufferLimit, 1)
        commitInterval = .milliseconds(configuration.commitIntervalMilliseconds)
        // Every line of this consumer, librdkafka's own included, names its group.
        var logger = logger
        logger[metadataKey: "kafka.group"] = "\(configuration.groupID)"
        let callbacks = RDKafkaCallbacks(logger: logger)
        client = try RDKafkaClient(
            kind: .consumer, properties: configuration.librdkafkaProperties(), callbacks: callbacks, logger: logger)
        cooperative =
            String(cString: rd_kafka_rebalance_protocol(client.handle)) == "COOPERATIVE"
            || configuration.assignmentStrategy.contains("cooperative")
        // Logs, errors and rebalances are served by rd_kafka_consumer_poll from here on.
        rd_kafka_poll_set_consumer(client.handle)
        callbacks.onRebalance = { [unowned self] rk, error, partitions in rebalance(rk, error, partitions) }
        callbacks.onCommitted = { [unowned self] error, partitions in committed(error, partitions) }
        let list = TopicPartitionList(topics.map { KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        let result = rd_kafka_subscribe(client.handle, list.pointer)
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(result, "subscribing to \(topics.joined(separator: ", "))")
        }
    }

    // MARK: Application side

    func next() async throws -> KafkaConsumerMessage? {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let result = state.withLock { state -> Result<KafkaConsumerMessage?, any Error>? in
                    if let message = state.buffer.popFirst() {
                        return .success(message)
                    }
                    if state.finished { return state.failure.map { .failure($0) } ?? .success(nil) }
                    // Cancelled before the handler below was installed: it ran already and found no waiter.
                    // (Cancellation is flagged before handlers run, so under the lock this check cannot miss it.)
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0).continuation }
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func takeWaiting(_ maximum: Int) -> [KafkaConsumerMessage] {
        state.withLock { state in
            let count = min(maximum, state.buffer.count)
            guard count > 0 else { return [] }
            let taken = Array(state.buffer.prefix(count))
            state.buffer.removeFirst(count)
            return taken
        }
    }

    func acknowledge(_ partition: KafkaTopicPartition, _ offset: Int64) { acknowledge([(partition, offset)]) }

    func acknowledge(_ positions: [(KafkaTopicPartition, Int64)]) {
        state.withLock { state in
            var current:
                (partition: KafkaTopicPartition, index: Dictionary<KafkaTopicPartition, PartitionProgress>.Index?)?
            for (partition, offset) in positions {
                if current?.partition != partition { current = (partition, state.partitions.index(forKey: partition)) }
                // A partition revoked since the message was taken is absent: its new owner redoes the message.
                guard let index = current?.index else { continue }
                if state.partitions.values[index].acknowledge(offset) { state.commitPending = true }
            }
        }
    }

    func setUserPaused(_ paused: Bool) { state.withLock { $0.userPaused = paused } }

    var assignment: Set<KafkaTopicPartition> { state.withLock { Set($0.partitions.keys) } }

    /// The assignment now, then again after every assign and revoke; finished when the consumer ends.
    func assignmentChanges() -> AsyncStream<Set<KafkaTopicPartition>> {
        let (stream, continuation) = AsyncStream<Set<KafkaTopicPartition>>.makeStream(
            bufferingPolicy: .bufferingNewest(1))
        let (current, finished, id) = state.withLock { state in
            state.nextObserverID += 1
            if !state.finished { state.observers[state.nextObserverID] = continuation }
            return (Set(state.partitions.keys), state.finished, state.nextObserverID)
        }
        continuation.yield(current)
        if finished {
            continuation.finish()
        } else {
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.observers.removeValue(forKey: id) }
            }
        }
        return stream
    }

    /// Tells the observers the assignment (on the poll thread, inside the rebalance callback).
    private func announceAssignment() {
        let (current, observers) = state.withLock { (Set($0.partitions.keys), Array($0.observers.values)) }
        for observer in observers { observer.yield(current) }
    }

    /// Whether the group has assigned this member partitions at least once (an empty assignment counts: it joined).
    var hasJoined: Bool { client.wasAssigned.load(ordering: .acquiring) }

    // MARK: Poll thread

    /// One turn of the poll loop; false when the loop is over.
    func step(stopping: Bool) -> Bool {
        if stopping {
            finish()
            return false
        }
        applyPause()
        if state.withLock({ $0.commitPending }), lastCommit.withLock({ $0.duration(to: .now) >= commitInterval }) {
            commit(synchronously: false)
        }
        // A full buffer: wait for the application to take messages, but still poll (for at most one message)
        // every 250 ms, so that rebalances are served and the member never exceeds max.poll.interval.ms.
        // (Pausing the partitions instead would make librdkafka drop and fetch again what it had prefetched.)
        var limit = Self.drainLimit
        if waitWhileFull() { limit = 1 }
        // Wait up to 100 ms for one message, then take what is already fetched without waiting, and hand the
        // lot over under one lock.
        var messages: [KafkaConsumerMessage] = []
        var lastTopic: (handle: OpaquePointer?, name: String) = (nil, "")
        var timeout: Int32 = limit == 1 ? 0 : 100
        var rebalancesSeen = rebalances.load(ordering: .relaxed)
        while messages.count < limit {
            // rd_kafka_consumer_poll returns a message we own (destroyed here) or nil.
            let pointer = rd_kafka_consumer_poll(client.handle, timeout)
            // That poll ran the rebalance callback (even if it returned nothing): what this turn took before it may
            // come from an assignment revoked since, perhaps assigned again and fetched again from the committed
            // offset. Such messages are neither handed out nor recorded (librdkafka drops those still queued).
            if rebalances.load(ordering: .relaxed) != rebalancesSeen {
                rebalancesSeen = rebalances.load(ordering: .relaxed)
                state.withLock { $0.discardRevoked(from: &messages) }
            }
            guard let pointer else { break }
            timeout = 0
            defer { rd_kafka_message_destroy(pointer) }
            if pointer.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                guard handleError(pointer.pointee) else {
                    deliver(messages)
                    return false
                }
                continue
            }
            let rkt = pointer.pointee.rkt
            if rkt != lastTopic.handle {
                lastTopic = (rkt, rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "")
            }
            messages.append(Self.copy(pointer, topic: lastTopic.name))
        }
        deliver(messages)
        return true
    }

    /// Waits up to 250 ms while the buffer is full; true if it is still full.
    private func waitWhileFull() -> Bool {
        for _ in 0..<25 {
            guard state.withLock({ $0.buffer.count >= bufferLimit && !$0.finished }) else { return false }
            usleep(10_000)
        }
        return true
    }

    /// Messages taken from librdkafka per turn of the loop.
    static let drainLimit = 512

    private func deliver(_ messages: [KafkaConsumerMessage]) {
        guard !messages.isEmpty else { return }
        let (handed, gaps) = state.withLock { $0.record(messages) }
        for (waiter, message) in handed { waiter.resume(returning: message) }
        for (partition, gap) in gaps {
            // On Relay's topics (not compacted, written without transactions) a gap is a broker fault.
            client.logger.notice(
                "kafka consumer: offsets \(gap.lowerBound)..<\(gap.upperBound) of \(partition) never came",
                metadata: Self.metadata([partition]))
        }
    }

    private func handleError(_ message: rd_kafka_message_t) -> Bool {
        let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        switch message.err {
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            return true
        case RD_KAFKA_RESP_ERR__FATAL:
            let error = client.fatalError() ?? .rdkafka(message.err, "consuming")
            client.logger.critical("kafka consumer: \(error)")
            end(failure: error)
            return false
        default:
            var metadata: Logger.Metadata = [:]
            if !topic.isEmpty { metadata["kafka.topic"] = "\(topic)" }
            if message.partition >= 0 { metadata["kafka.partition"] = "\(message.partition)" }
            client.logger.warning("kafka consumer: \(KafkaError.rdkafka(message.err, "consuming"))", metadata: metadata)
            return true
        }
    }

    private func applyPause() {
        let (want, applied) = state.withLock { ($0.userPaused, $0.appliedPause) }
        guard want != applied else { return }
        var assigned: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        // rd_kafka_assignment gives us a list we must destroy.
        guard rd_kafka_assignment(client.handle, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR, let assigned else { return }
        defer { rd_kafka_topic_partition_list_destroy(assigned) }
        if want {
            rd_kafka_pause_partitions(client.handle, assigned)
        } else {
            rd_kafka_resume_partitions(client.handle, assigned)
        }
        state.withLock { $0.appliedPause = want }
    }

    /// Commits the acknowledged prefix of every owned partition that moved since the last commit.
    private func commit(synchronously: Bool, only: Set<KafkaTopicPartition>? = nil) {
        lastCommit.withLock { $0 = .now }
        let offsets = state.withLock { state -> [(KafkaTopicPartition, Int64)] in
            state.commitPending = false
            var offsets: [(KafkaTopicPartition, Int64)] = []
            for (partition, progress) in state.partitions where only?.contains(partition) ?? true {
                guard let offset = progress.committable, offset != progress.committed else { continue }
                state.partitions[partition]?.committed = offset
                offsets.append((partition, offset))
            }
            return offsets
        }
        guard !offsets.isEmpty else { return }
        let list = TopicPartitionList(offsets.map(\.0), offsets: offsets.map(\.1))
        let result = rd_kafka_commit(client.handle, list.pointer, synchronously ? 0 : 1)
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            client.logger.warning(
                "kafka consumer: \(KafkaError.rdkafka(result, "committing offsets"))",
                metadata: Self.metadata(offsets.map(\.0)))
            retryCommit(offsets.map(\.0))
        }
    }

    private func retryCommit(_ partitions: [KafkaTopicPartition]) {
        state.withLock { state in
            for partition in partitions where state.partitions[partition] != nil {
                state.partitions[partition]?.committed = nil
                state.commitPending = true
            }
        }
    }

    private func committed(_ error: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?)
    {
        guard let list else { return }
        let failed = TopicPartitionList.entries(list).filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
        if error == RD_KAFKA_RESP_ERR_NO_ERROR && failed.isEmpty { return }
        if error == RD_KAFKA_RESP_ERR__NO_OFFSET { return } // nothing to commit
        let retried = failed.isEmpty ? TopicPartitionList.entries(list).map(\.partition) : failed.map(\.partition)
        client.logger.warning(
            "kafka consumer: \(KafkaError.rdkafka(error, "committing offsets")); will retry",
            metadata: Self.metadata(retried))
        retryCommit(retried)
    }

    private func rebalance(
        _ rk: OpaquePointer, _ error: rd_kafka_resp_err_t,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        rebalances.add(1, ordering: .relaxed)
        let partitions = list.map { TopicPartitionList.entries($0).map(\.partition) } ?? []
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            client.wasAssigned.store(true, ordering: .releasing)
            state.withLock { $0.assign(partitions) }
            if cooperative {
                if let failure = rd_kafka_incremental_assign(rk, list) {
                    client.logger.error(
                        "kafka consumer: \(KafkaError.consuming(failure, "assigning partitions"))",
                        metadata: Self.metadata(partitions))
                }
            } else {
                rd_kafka_assign(rk, list)
            }
            if state.withLock({ $0.appliedPause }) { rd_kafka_pause_partitions(rk, list) }
            announceAssignment()
            client.logger.info(
                "kafka consumer: assigned \(partitions.map(\.description).joined(separator: ", "))",
                metadata: Self.metadata(partitions))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let revoked = Set(partitions)
            // Lost partitions (session timed out) already belong to someone else: committing would be wrong.
            if rd_kafka_assignment_lost(rk) == 0 { commit(synchronously: true, only: revoked) }
            state.withLock { $0.revoke(revoked) }
            // Before the partitions are unassigned: what depends on owning them stops before they can be given to
            // another member.
            announceAssignment()
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(rk, list) {
                    client.logger.error(
                        "kafka consumer: \(KafkaError.consuming(failure, "revoking partitions"))",
                        metadata: Self.metadata(partitions))
                }
            } else {
                rd_kafka_assign(rk, nil)
            }
            client.logger.info(
                "kafka consumer: revoked \(partitions.map(\.description).joined(separator: ", "))",
                metadata: Self.metadata(partitions))
        default:
            client.logger.error(
                "kafka consumer: \(KafkaError.rdkafka(error, "rebalancing"))", metadata: Self.metadata(partitions))
            state.withLock { $0.revoke(Set($0.partitions.keys)) }
            announceAssignment()
            rd_kafka_assign(rk, nil)
        }
    }

    /// Final commit, leave the group, end the stream. On the poll thread.
    private func finish() {
        commit(synchronously: true)
        // A commit refused during a rebalance is retried a few times (polling serves the rebalance meanwhile).
        for _ in 0..<5 where state.withLock({ $0.commitPending }) {
            if let message = rd_kafka_consumer_poll(client.handle, 200) { rd_kafka_message_destroy(message) }
            commit(synchronously: true)
        }
        // rd_kafka_consumer_close revokes everything (our rebalance callback commits again) and leaves the group.
        let result = rd_kafka_consumer_close(client.handle)
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            client.logger.warning("kafka consumer: \(KafkaError.rdkafka(result, "leaving the group"))")
        }
        end(failure: nil)
    }

    private func end(failure: KafkaError?) {
        let (waiters, observers) = state.withLock { state in
            state.finished = true
            state.failure = state.failure ?? failure
            state.buffer.removeAll()
            // An ended member owns nothing.
            state.partitions.removeAll()
            defer {
                state.waiters.removeAll()
                state.observers.removeAll()
            }
            return (state.waiters.map(\.continuation), Array(state.observers.values))
        }
        for observer in observers {
            observer.yield([])
            observer.finish()
        }
        for waiter in waiters {
            if let failure { waiter.resume(throwing: failure) } else { waiter.resume(returning: nil) }
        }
    }

    /// Log metadata naming partitions: `kafka.topic` (their topics, comma-separated) and `kafka.partitions`
    /// (`topic[n]` each).
    static func metadata(_ partitions: [KafkaTopicPartition]) -> Logger.Metadata {
        [
            "kafka.topic": .string(Set(partitions.map(\.topic)).sorted().joined(separator: ",")),
            "kafka.partitions": .array(partitions.map { .string($0.description) }),
        ]
    }

    private static func copy(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaConsumerMessage
    {
        let raw = pointer.pointee
        let value = raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.len)) } ?? []
        let key = raw.key.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.key_len)) }
        var headers: [KafkaHeader] = []
        var list: OpaquePointer?
        // rd_kafka_message_headers: the headers belong to the message; we copy them out.
        if rd_kafka_message_headers(pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = headerValue.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &type)
        return KafkaConsumerMessage(
            topic: topic, partition: raw.partition, offset: raw.offset, key: key, value: value, headers: headers,
            timestamp: timestamp >= 0 ? timestamp : nil)
    }
}
