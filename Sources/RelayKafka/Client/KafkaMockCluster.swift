import CRdKafka
import Logging

/// librdkafka's in-process mock cluster (real loopback TCP listeners), for tests that inject faults: brokers
/// going down and up, request errors. It keeps only 5 MiB per partition and drops older data silently: never
/// benchmark on it.
///
/// @unchecked Sendable: the mock cluster's functions are thread-safe (they post to the cluster's own thread).
public final class KafkaMockCluster: @unchecked Sendable {
    private let host: RDKafkaClient
    private let cluster: OpaquePointer
    public let bootstrapServers: String

    public init(brokers: Int = 3, logger: Logger = Logger(label: "relay.kafka.mock")) throws {
        host = try RDKafkaClient(
            kind: .producer, properties: [], callbacks: RDKafkaCallbacks(logger: logger),
            logger: logger)
        guard let cluster = rd_kafka_mock_cluster_new(host.handle, Int32(brokers)) else {
            throw KafkaError(.configuration, "could not start librdkafka's mock cluster")
        }
        self.cluster = cluster
        // The bootstrap string belongs to the cluster: copy it.
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        // Destroy the cluster before its host client (the `host` property is released after this body).
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Creates a topic (the mock cluster has no CreateTopics API).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws {
        let result = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor))
        if result != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rdkafka(result, "creating mock topic \(name)") }
    }

    /// Takes a broker (ids start at 1) down: its connections close and it refuses new ones.
    public func setBrokerDown(_ id: Int32) { rd_kafka_mock_broker_set_down(cluster, id) }
    public func setBrokerUp(_ id: Int32) { rd_kafka_mock_broker_set_up(cluster, id) }

    /// The next `errors.count` requests of API `apiKey` (0 = Produce, 1 = Fetch, 8 = OffsetCommit, …) fail
    /// with these librdkafka error codes.
    public func pushRequestErrors(apiKey: Int16, _ errors: [Int32]) {
        var codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, codes.count, &codes)
    }
}

/// librdkafka error codes that tests inject.
public enum KafkaErrorCode {
    public static let notLeaderForPartition = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue
    public static let requestTimedOut = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue
    public static let notEnoughReplicas = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue
}
