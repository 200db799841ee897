import CRdKafka

extension KafkaAdmin {
    /// Whether the cluster answers a metadata request for its brokers (no topics) within `timeout`; the blocking
    /// request runs on a dispatch thread.
    public func isReachable(timeout: Duration = .seconds(2)) async -> Bool {
        let milliseconds = Int32(clamping: Int64((timeout / .milliseconds(1)).rounded()))
        let answered = try? await Blocking.run { [client] in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            // all_topics 0 and no topic: the brokers only. rd_kafka_metadata allocates; freed here.
            let result = rd_kafka_metadata(client.handle, 0, nil, &metadata, milliseconds)
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            return result == RD_KAFKA_RESP_ERR_NO_ERROR
        }
        return answered ?? false
    }

    /// Per topic of `topics` (Kafka's names), how far consumer group `group` is behind: the sum over the topic's
    /// partitions of the high watermark minus the group's committed offset (minus the low watermark where the group
    /// has committed nothing: it starts at the earliest message). Topics the cluster does not have are absent.
    ///
    /// Blocking requests (metadata, the group's committed offsets, each partition's watermarks) run on a dispatch
    /// thread, each waiting at most `timeout`.
    public func consumerLag(group: String, topics: [String], timeout: Duration = .seconds(2)) async throws
        -> [String: Int64]
    {
        let milliseconds = Int32(clamping: Int64((timeout / .milliseconds(1)).rounded()))
        return try await Blocking.run { [client] in
            let partitions = try Self.partitions(of: Set(topics), client: client, timeoutMilliseconds: milliseconds)
            guard !partitions.isEmpty else { return [:] }
            let list = TopicPartitionList(partitions)
            // The request object is ours to destroy; it copies `list`.
            var request: OpaquePointer? = rd_kafka_ListConsumerGroupOffsets_new(group, list.pointer)
            defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
            let event = try Self.request(client, milliseconds, "listing the committed offsets of group \(group)") {
                queue, options in
                rd_kafka_ListConsumerGroupOffsets(client.handle, &request, 1, options, queue)
            }
            // The result's groups and partition lists belong to the event, destroyed after they are copied out.
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard
                let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
                    rd_kafka_event_ListConsumerGroupOffsets_result(event), &count), count > 0, let result = groups[0]
            else { throw KafkaError(.admin, "listing the committed offsets of group \(group): no result") }
            if let error = rd_kafka_group_result_error(result) {
                throw KafkaError(
                    .admin,
                    "listing the committed offsets of group \(group): \(String(cString: rd_kafka_error_string(error)))"
                )
            }
            var committed: [KafkaTopicPartition: Int64] = [:]
            if let offsets = rd_kafka_group_result_partitions(result) {
                for entry in TopicPartitionList.entries(UnsafeMutablePointer(mutating: offsets))
                where entry.error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0 {
                    committed[entry.partition] = entry.offset
                }
            }
            var lag: [String: Int64] = [:]
            for partition in partitions {
                var low: Int64 = 0
                var high: Int64 = 0
                let code = rd_kafka_query_watermark_offsets(
                    client.handle, partition.topic, partition.partition, &low, &high, milliseconds)
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.rdkafka(code, "reading the watermarks of \(partition)")
                }
                lag[partition.topic, default: 0] += max(0, high - (committed[partition] ?? low))
            }
            return lag
        }
    }

    /// Every partition of those of `topics` the cluster has (a blocking metadata request).
    private static func partitions(of topics: Set<String>, client: RDKafkaClient, timeoutMilliseconds: Int32) throws
        -> [KafkaTopicPartition]
    {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let result = rd_kafka_metadata(client.handle, 1, nil, &metadata, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError.rdkafka(result, "reading cluster metadata")
        }
        // rd_kafka_metadata allocates; we free it after copying out.
        defer { rd_kafka_metadata_destroy(metadata) }
        var partitions: [KafkaTopicPartition] = []
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            let name = String(cString: topic.topic)
            guard topics.contains(name), topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            for partition in 0..<Int(topic.partition_cnt) {
                partitions.append(KafkaTopicPartition(topic: name, partition: topic.partitions[partition].id))
            }
        }
        return partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }
}
