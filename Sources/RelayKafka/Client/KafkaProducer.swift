import CRdKafka
import Logging
import Synchronization

/// An idempotent Kafka producer. `send` returns once every message has its delivery report (stored by the
/// broker with `acks=all`), or throws the first failure. When librdkafka's queue is full, `send` waits for room.
///
/// Shutdown: `close()` flushes what is queued (up to its timeout), then stops the poll thread; the handle is
/// destroyed when the last reference goes.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let poller: PollThread
    public let configuration: KafkaProducerConfiguration

    public init(configuration: KafkaProducerConfiguration, logger: Logger = Logger(label: "relay.kafka.producer"))
        throws
    {
        self.configuration = configuration
        let client = try RDKafkaClient(
            kind: .producer, properties: configuration.librdkafkaProperties(),
            callbacks: RDKafkaCallbacks(logger: logger), logger: logger)
        self.client = client
        // Serves delivery reports, logs and errors; 100 ms bounds how long stop() waits.
        poller = PollThread(name: "relay-kafka-producer") { stopping in
            rd_kafka_poll(client.handle, 100)
            return !stopping
        }
    }

    deinit { poller.requestStop() }

    /// Sends one message; returns where it was stored.
    @discardableResult
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        try await send([message])[0]
    }

    /// Sends messages (in order per partition); returns their delivery reports in the same order.
    public func send(_ messages: [KafkaProducerMessage]) async throws -> [KafkaDeliveryReport] {
        guard !messages.isEmpty else { return [] }
        let batch = DeliveryBatch(count: messages.count)
        var enqueued = 0
        do {
            for (index, message) in messages.enumerated() {
                try await enqueue(message, ticket: DeliveryTicket(batch: batch, index: index))
                enqueued += 1
            }
        } catch {
            batch.stopExpecting(after: enqueued, error: error as? KafkaError)
        }
        return try await batch.reports()
    }

    private func enqueue(_ message: KafkaProducerMessage, ticket: DeliveryTicket) async throws {
        while true {
            let result = produce(message, ticket: ticket)
            if result == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            if result == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                // Backpressure: the poll thread drains delivery reports and makes room.
                try await Task.sleep(for: .milliseconds(2))
                continue
            }
            if result == RD_KAFKA_RESP_ERR__FATAL, let fatal = client.fatalError() { throw fatal }
            throw KafkaError.rdkafka(result, "producing to \(message.topic)")
        }
    }

    private func produce(_ message: KafkaProducerMessage, ticket: DeliveryTicket) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            // rd_kafka_headers_new: ours until produce succeeds, then the message's.
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                header.value.withUnsafeBytes { value in
                    _ = rd_kafka_header_add(headers, header.name, -1, value.baseAddress, value.count)
                }
            }
        }
        // The ticket is retained for librdkafka and released by the delivery report (or below on failure).
        let opaque = Unmanaged.passRetained(ticket).toOpaque()
        let result = message.value.withUnsafeBytes { value in
            withKey(message.key) { key, keyLength in
                relay_rd_kafka_produce(
                    client.handle, message.topic, message.partition ?? RD_KAFKA_PARTITION_UA, key, keyLength,
                    value.baseAddress, value.count, headers, message.timestamp ?? 0, opaque)
            }
        }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            Unmanaged<DeliveryTicket>.fromOpaque(opaque).release()
            if let headers { rd_kafka_headers_destroy(headers) }
        }
        return result
    }

    private func withKey<R>(_ key: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
        guard let key else { return body(nil, 0) }
        return key.withUnsafeBytes { body($0.baseAddress, $0.count) }
    }

    /// Waits until every queued message has its delivery report, up to `timeout`.
    public func flush(timeout: Duration = .seconds(30)) async throws {
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        let result = try await Blocking.run { [client] in rd_kafka_flush(client.handle, milliseconds) }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdkafka(result, "flushing the producer (\(rd_kafka_outq_len(client.handle)) messages left)")
        }
    }

    /// Flushes (up to `timeout`), then stops polling. Messages not delivered by then fail their `send`.
    public func close(timeout: Duration = .seconds(30)) async {
        do { try await flush(timeout: timeout) } catch { client.logger.warning("kafka producer: \(error)") }
        if rd_kafka_outq_len(client.handle) > 0 {
            // Fails what is left with __PURGE_QUEUE; the delivery reports are served by the last polls.
            rd_kafka_purge(client.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            _ = try? await Blocking.run { [client] in rd_kafka_flush(client.handle, 1000) }
        }
        await poller.stop()
    }
}

/// The delivery reports of one `send` call.
final class DeliveryBatch: Sendable {
    private struct State {
        var reports: [KafkaDeliveryReport?]
        var expected: Int
        var done = 0
        var error: KafkaError?
        var continuation: CheckedContinuation<[KafkaDeliveryReport], any Error>?
    }

    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(reports: Array(repeating: nil, count: count), expected: count)) }

    func complete(index: Int, result: Result<KafkaDeliveryReport, KafkaError>) {
        let ready = state.withLock { state -> (CheckedContinuation<[KafkaDeliveryReport], any Error>, State)? in
            switch result {
            case .success(let report): state.reports[index] = report
            case .failure(let error): if state.error == nil { state.error = error }
            }
            state.done += 1
            return take(&state)
        }
        if let (continuation, state) = ready { resume(continuation, state) }
    }

    /// Enqueuing stopped early: only the first `count` messages will report.
    func stopExpecting(after count: Int, error: KafkaError?) {
        let ready = state.withLock { state -> (CheckedContinuation<[KafkaDeliveryReport], any Error>, State)? in
            state.expected = count
            if state.error == nil { state.error = error ?? KafkaError(.closed, "sending was cancelled") }
            return take(&state)
        }
        if let (continuation, state) = ready { resume(continuation, state) }
    }

    func reports() async throws -> [KafkaDeliveryReport] {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> (CheckedContinuation<[KafkaDeliveryReport], any Error>, State)? in
                state.continuation = continuation
                return take(&state)
            }
            if let (continuation, state) = ready { resume(continuation, state) }
        }
    }

    private func take(_ state: inout State) -> (CheckedContinuation<[KafkaDeliveryReport], any Error>, State)? {
        guard state.done >= state.expected, let continuation = state.continuation else { return nil }
        state.continuation = nil
        return (continuation, state)
    }

    private func resume(_ continuation: CheckedContinuation<[KafkaDeliveryReport], any Error>, _ state: State) {
        if let error = state.error {
            continuation.resume(throwing: error)
        } else {
            continuation.resume(returning: state.reports.map { $0! })
        }
    }
}

/// One message's place in its batch; passed to librdkafka as the message opaque.
final class DeliveryTicket: Sendable {
    let batch: DeliveryBatch
    let index: Int

    init(batch: DeliveryBatch, index: Int) {
        self.batch = batch
        self.index = index
    }

    func complete(_ message: rd_kafka_message_t) {
        let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        if message.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            batch.complete(index: index, result: .success(
                KafkaDeliveryReport(topic: topic, partition: message.partition, offset: message.offset)))
        } else {
            batch.complete(index: index, result: .failure(.rdkafka(message.err, "delivering to \(topic)")))
        }
    }
}
