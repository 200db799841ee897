import CRdKafka
import Logging
import RelayTransport

/// A topic as the cluster has it.
public struct KafkaTopicDescription: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Every config entry the broker reports for the topic; nil when it could not be described
    /// (`configProblem` says why).
    public var config: [String: String]?
    public var configProblem: String?
}

/// Creates and describes topics. Blocking admin requests run on dispatch threads.
///
/// Shutdown: `close()` stops the poll thread that serves the client's logs.
public final class KafkaAdmin: Sendable {
    let client: RDKafkaClient
    private let poller: PollThread
    private let timeoutMilliseconds: Int32

    public init(
        configuration: KafkaClientConfiguration, timeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "relay.kafka.admin")
    ) throws {
        let client = try RDKafkaClient(
            kind: .producer,
            properties: configuration.librdkafkaProperties() + configuration.properties.map { ($0, $1) },
            callbacks: RDKafkaCallbacks(logger: logger), logger: logger)
        self.client = client
        timeoutMilliseconds = Int32(clamping: timeout.components.seconds * 1000)
        poller = PollThread(name: "relay-kafka-admin") { stopping in
            rd_kafka_poll(client.handle, 100)
            return !stopping
        }
    }

    deinit { poller.requestStop() }

    public func close() async { await poller.stop() }

    public enum Creation: Sendable, Equatable { case created, alreadyExisted }

    /// Creates `topics`; each gets its own outcome (an existing topic is `.alreadyExisted`, not an error).
    public func createTopics(_ topics: [TopicDeclaration]) async throws -> [String: Result<Creation, KafkaError>] {
        guard !topics.isEmpty else { return [:] }
        return try await Blocking.run { [client, timeoutMilliseconds] in
            var errstr = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            // Each NewTopic is ours to destroy.
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                guard
                    let newTopic = rd_kafka_NewTopic_new(
                        topic.name, Int32(topic.partitions),
                        Int32(topic.replicationFactor), &errstr, errstr.count)
                else {
                    throw KafkaError(.admin, "topic \(topic.name): \(errorString(errstr))")
                }
                newTopics.append(newTopic)
                for (name, value) in topic.config.sorted(by: { $0.key < $1.key }) {
                    let result = rd_kafka_NewTopic_set_config(newTopic, name, value)
                    if result != RD_KAFKA_RESP_ERR_NO_ERROR {
                        throw KafkaError.rdkafka(result, "topic \(topic.name): config \(name)=\(value)")
                    }
                }
            }
            let event = try Self.request(client, timeoutMilliseconds, "creating topics") { queue, options in
                rd_kafka_CreateTopics(client.handle, &newTopics, newTopics.count, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
            else { return [:] }
            var outcome: [String: Result<Creation, KafkaError>] = [:]
            for index in 0..<count {
                let result = results[index]
                let name = String(cString: rd_kafka_topic_result_name(result))
                let code = rd_kafka_topic_result_error(result)
                switch code {
                case RD_KAFKA_RESP_ERR_NO_ERROR: outcome[name] = .success(.created)
                case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcome[name] = .success(.alreadyExisted)
                default:
                    let text = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""
                    var error = KafkaError.rdkafka(code, "creating topic \(name)")
                    if !text.isEmpty { error.message += " (\(text))" }
                    outcome[name] = .failure(error)
                }
            }
            return outcome
        }
    }

    /// Describes the topics that exist among `names` (absent ones are absent from the result).
    public func describeTopics(_ names: [String]) async throws -> [String: KafkaTopicDescription] {
        var descriptions = try await metadata(Set(names))
        for name in descriptions.keys.sorted() {
            do {
                descriptions[name]?.config = try await describeConfig(name)
            } catch let error as KafkaError {
                descriptions[name]?.configProblem = error.message
            }
        }
        return descriptions
    }

    /// Which of `names` exist (metadata only).
    public func describeTopicNames(_ names: [String]) async throws -> Set<String> {
        Set(try await metadata(Set(names)).keys)
    }

    /// The partitions and replication of the topics that exist among `names` (metadata only).
    func metadata(_ names: Set<String>) async throws -> [String: KafkaTopicDescription] {
        try await Blocking.run { [client, timeoutMilliseconds] in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let result = rd_kafka_metadata(client.handle, 1, nil, &metadata, timeoutMilliseconds)
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError.rdkafka(result, "reading cluster metadata")
            }
            // rd_kafka_metadata allocates; we free it after copying out.
            defer { rd_kafka_metadata_destroy(metadata) }
            var descriptions: [String: KafkaTopicDescription] = [:]
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                let name = String(cString: topic.topic)
                guard names.contains(name), topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let replicas = topic.partition_cnt > 0 ? Int(topic.partitions[0].replica_cnt) : 0
                descriptions[name] = KafkaTopicDescription(
                    name: name, partitions: Int(topic.partition_cnt), replicationFactor: replicas)
            }
            return descriptions
        }
    }

    private func describeConfig(_ topic: String) async throws -> [String: String] {
        try await Blocking.run { [client, timeoutMilliseconds] in
            // The resource is ours to destroy.
            var resource: OpaquePointer? = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic)
            defer { rd_kafka_ConfigResource_destroy(resource) }
            let event = try Self.request(client, timeoutMilliseconds, "describing the config of \(topic)") {
                queue, options in
                rd_kafka_DescribeConfigs(client.handle, &resource, 1, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard
                let resources = rd_kafka_DescribeConfigs_result_resources(
                    rd_kafka_event_DescribeConfigs_result(event), &count), count > 0
            else { return [:] }
            let described = resources[0]
            let code = rd_kafka_ConfigResource_error(described)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError.rdkafka(code, "describing the config of \(topic)")
            }
            var entryCount = 0
            guard let entries = rd_kafka_ConfigResource_configs(described, &entryCount) else { return [:] }
            var config: [String: String] = [:]
            for index in 0..<entryCount {
                let entry = entries[index]
                guard let value = rd_kafka_ConfigEntry_value(entry) else { continue }
                config[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
            }
            return config
        }
    }

    /// Sends one admin request with its own result queue and waits for the result event (ours to destroy).
    static func request(
        _ client: RDKafkaClient, _ timeoutMilliseconds: Int32, _ what: String,
        _ send: (OpaquePointer?, OpaquePointer?) -> Void
    ) throws -> OpaquePointer {
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_ANY)
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 512)
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &errstr, errstr.count)
        send(queue, options)
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 1000) else {
            throw KafkaError(
                .admin, "\(what): no answer from the cluster in \(timeoutMilliseconds) ms",
                isRetriable: true)
        }
        let code = rd_kafka_event_error(event)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            rd_kafka_event_destroy(event)
            var error = KafkaError.rdkafka(code, what)
            if !text.isEmpty { error.message = "\(what): \(text)" }
            throw error
        }
        return event
    }
}
