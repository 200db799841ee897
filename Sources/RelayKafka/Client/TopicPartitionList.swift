import CRdKafka

/// Owner of an `rd_kafka_topic_partition_list_t` built from Swift values; destroyed in `deinit`.
final class TopicPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ partitions: [KafkaTopicPartition], offsets: [Int64]? = nil) {
        // rd_kafka_topic_partition_list_new: ours to destroy.
        pointer = rd_kafka_topic_partition_list_new(Int32(partitions.count))
        for (index, partition) in partitions.enumerated() {
            // _add returns an element owned by the list.
            let element = rd_kafka_topic_partition_list_add(pointer, partition.topic, partition.partition)
            if let offsets { element?.pointee.offset = offsets[index] }
        }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// The entries of a list librdkafka owns, copied out.
    static func entries(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>)
        -> [(partition: KafkaTopicPartition, offset: Int64, error: rd_kafka_resp_err_t)]
    {
        let count = Int(list.pointee.cnt)
        guard count > 0, let elements = list.pointee.elems else { return [] }
        return (0..<count).map { index in
            let element = elements[index]
            return (
                KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition),
                element.offset, element.err
            )
        }
    }
}
