import CRdKafka
import Dispatch
import Logging
import Synchronization

/// Owner of one `rd_kafka_t`: creates it from configuration properties, routes librdkafka's logs and errors to
/// swift-log, and destroys it in `deinit`.
///
/// @unchecked Sendable: the handle is immutable after `init`, and librdkafka's API is thread-safe for the calls
/// made through it (produce, poll, commit, metadata, admin); the callbacks object is shared safely (see
/// `RDKafkaCallbacks`).
final class RDKafkaClient: @unchecked Sendable {
    enum Kind { case producer, consumer }

    let handle: OpaquePointer
    let callbacks: RDKafkaCallbacks
    let logger: Logger

    /// Creates the client. `properties` are set in order, so later ones win. A rejected property or a client
    /// librdkafka cannot create throws `.configuration` naming the property, its value and librdkafka's reason.
    init(kind: Kind, properties: [(String, String)], callbacks: RDKafkaCallbacks, logger: Logger) throws {
        self.kind = kind
        self.callbacks = callbacks
        self.logger = logger
        // rd_kafka_conf_new returns a conf we own until rd_kafka_new succeeds.
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(conf, name, value, &errstr, errstr.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = errorString(errstr)
                throw KafkaError(.configuration, "Kafka configuration: \(name)=\"\(value)\": \(reason)")
            }
        }
        // The opaque is unretained: `callbacks` is kept alive by this object, which outlives the handle.
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let rk, let callbacks = RDKafkaCallbacks.from(rk) else { return }
            callbacks.log(
                level: level, facility: facility.map { String(cString: $0) } ?? "",
                message: message.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(conf) { rk, error, reason, opaque in
            guard let opaque else { return }
            let callbacks = Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
            callbacks.clientError(
                rk: rk, code: rd_kafka_resp_err_t(rawValue: error),
                reason: reason.map { String(cString: $0) } ?? "")
        }
        switch kind {
        case .producer:
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                guard let message else { return }
                RDKafkaCallbacks.delivered(message.pointee)
            }
        case .consumer:
            rd_kafka_conf_set_rebalance_cb(conf) { rk, error, partitions, opaque in
                guard let rk, let opaque else { return }
                let callbacks = Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
                callbacks.rebalance(rk, error, partitions)
            }
            rd_kafka_conf_set_offset_commit_cb(conf) { _, error, partitions, opaque in
                guard let opaque else { return }
                let callbacks = Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
                callbacks.committed(error, partitions)
            }
        }
        // rd_kafka_new takes ownership of conf only on success; on failure it remains ours to destroy.
        guard
            let handle = rd_kafka_new(
                kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, &errstr,
                errstr.count)
        else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.configuration, "Kafka configuration: cannot create the client: \(errorString(errstr))")
        }
        self.handle = handle
    }

    /// Set by a consumer once it has had an assignment (see `deinit`).
    let wasAssigned = Atomic<Bool>(false)
    let kind: Kind

    deinit {
        // librdkafka before 2.3.0 aborts when a cooperative-sticky consumer that never had an assignment is
        // destroyed (`rd_kafka_sticky_assignor_state_destroy: Assertion 'assignor_state' failed`, librdkafka
        // issue #4312, fixed by PR #4381). Such a consumer has already left its group (consumer close); its handle
        // is left to the process's end instead of crashing it. It happens only to consumers closed while still
        // joining, i.e. at shutdown.
        if kind == .consumer && !wasAssigned.load(ordering: .acquiring) && Librdkafka.versionNumber < 0x0203_0000 {
            logger.debug("kafka: not destroying a consumer that never had an assignment (librdkafka issue #4312)")
            // librdkafka's threads still log through the opaque: the callbacks object must outlive them.
            _ = Unmanaged.passRetained(callbacks)
            return
        }
        // Blocks until librdkafka's threads have stopped; callers close (flush, leave the group) first.
        rd_kafka_destroy(handle)
    }

    /// The fatal error of the client, if one was raised (idempotent producer, static group membership).
    func fatalError() -> KafkaError? {
        var errstr = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(handle, &errstr, errstr.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(
            .librdkafka, "Kafka client failed for good: \(errorString(errstr))",
            librdkafkaCode: code.rawValue, isFatal: true)
    }
}

/// What librdkafka calls back into: logs and client errors for every client; consumers set the rebalance and
/// commit handlers. A producer's delivery reports do not go through this object but through each message's opaque
/// (a `DeliveryBatch` slot).
///
/// @unchecked Sendable: `onRebalance` and `onCommitted` are set once, by `KafkaConsumerLoop.init`, after the
/// client is created (they capture the loop, which owns the client) but before the consumer subscribes and before
/// its poll thread starts, and never change. librdkafka calls them only inside the consumer calls that thread
/// makes (poll, commit, close), so starting the thread orders the writes before every read. `log` and
/// `clientError`, which librdkafka may call on its own threads, read only `logger`, an immutable Sendable value.
final class RDKafkaCallbacks: @unchecked Sendable {
    let logger: Logger
    var onRebalance:
        (
            (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?)
                -> Void
        )?
    var onCommitted: ((rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> Void)?

    init(logger: Logger) { self.logger = logger }

    static func from(_ rk: OpaquePointer) -> RDKafkaCallbacks? {
        // rd_kafka_opaque returns the pointer set with rd_kafka_conf_set_opaque; no ownership involved.
        guard let opaque = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<RDKafkaCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    }

    func log(level: Int32, facility: String, message: String) {
        // librdkafka uses syslog levels: 0 emergency … 3 error, 4 warning, 5 notice, 6 info, 7 debug.
        let swiftLevel: Logger.Level =
            switch level {
            case ...3: .error
            case 4: .warning
            case 5: .notice
            case 6: .info
            default: .debug
            }
        logger.log(level: swiftLevel, "\(message)", metadata: ["kafka.facility": "\(facility)"])
    }

    func clientError(rk: OpaquePointer?, code: rd_kafka_resp_err_t, reason: String) {
        // Most client errors are transient (a broker connection dropped) and librdkafka recovers by itself.
        let level: Logger.Level = code == RD_KAFKA_RESP_ERR__FATAL ? .critical : .warning
        logger.log(
            level: level, "kafka: \(reason)", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(code)))"])
    }

    func rebalance(
        _ rk: OpaquePointer, _ error: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        onRebalance?(rk, error, partitions)
    }

    func committed(_ error: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        onCommitted?(error, partitions)
    }

    /// A producer's delivery report: the message opaque is a slot of a `DeliveryBatch`.
    static func delivered(_ message: rd_kafka_message_t) {
        guard let opaque = message._private else { return }
        DeliveryBatch.delivered(opaque, message)
    }
}

/// Runs blocking librdkafka calls (flush, close, admin requests, synchronous commits) on a dispatch thread, never
/// on the cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// The text librdkafka wrote into an error buffer (NUL-terminated).
func errorString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
