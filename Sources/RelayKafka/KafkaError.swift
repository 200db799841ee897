import CRdKafka

/// An error of the Kafka layer: librdkafka's error code when there is one, a message that says what was
/// expected, what was found and where, and whether retrying can help.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// Stable codes. `librdkafka` errors carry librdkafka's own code in `librdkafkaCode` as well.
    public struct Code: Hashable, Sendable, CustomStringConvertible, RawRepresentable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A configuration property was rejected (unknown name, bad value), or the client could not be created.
        public static let configuration = Code(rawValue: "configuration")
        /// An error librdkafka reported for a request, a message or the client.
        public static let librdkafka = Code(rawValue: "librdkafka")
        /// The client was closed.
        public static let closed = Code(rawValue: "closed")
        /// An admin request named something that does not exist or answered in a way Relay cannot use.
        public static let admin = Code(rawValue: "admin")
    }

    public var code: Code
    public var message: String
    /// librdkafka's `rd_kafka_resp_err_t` value, when the error came from librdkafka.
    public var librdkafkaCode: Int32?
    /// Retrying the same operation may succeed (a broker down for a while, a leader election, a full queue).
    public var isRetriable: Bool
    /// The client cannot continue (e.g. the idempotent producer lost its guarantees); it must be recreated.
    public var isFatal: Bool
    public var file: String
    public var line: Int

    public init(
        _ code: Code, _ message: String, librdkafkaCode: Int32? = nil, isRetriable: Bool = false,
        isFatal: Bool = false, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.librdkafkaCode = librdkafkaCode
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.file = file
        self.line = line
    }

    public var description: String { message }

    /// An error from a librdkafka response code; `context` says what was being done ("producing to relay.events").
    static func rdkafka(_ error: rd_kafka_resp_err_t, _ context: String, file: String = #fileID, line: Int = #line)
        -> KafkaError
    {
        // rd_kafka_err2str returns a static string: copy, never free.
        let text = String(cString: rd_kafka_err2str(error))
        return KafkaError(
            .librdkafka, "\(context): \(text)", librdkafkaCode: error.rawValue,
            isRetriable: KafkaError.retriableCodes.contains(error.rawValue), file: file, line: line)
    }

    /// An error from a librdkafka error object, which knows whether it is retriable or fatal. Takes ownership.
    static func consuming(_ error: OpaquePointer, _ context: String, file: String = #fileID, line: Int = #line)
        -> KafkaError
    {
        defer { rd_kafka_error_destroy(error) }
        return KafkaError(
            .librdkafka, "\(context): \(String(cString: rd_kafka_error_string(error)))",
            librdkafkaCode: rd_kafka_error_code(error).rawValue,
            isRetriable: rd_kafka_error_is_retriable(error) != 0, isFatal: rd_kafka_error_is_fatal(error) != 0,
            file: file, line: line)
    }

    /// Codes after which the same request can succeed later.
    static let retriableCodes: Set<Int32> = Set(
        [
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__QUEUE_FULL,
            RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        ].map(\.rawValue))
}
