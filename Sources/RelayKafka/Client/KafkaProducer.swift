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
    private let topics = TopicHandles()
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

    deinit {
        poller.requestStop()
        topics.destroyAll()
    }

    /// Sends one message; returns where it was stored.
    @discardableResult
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        try await send([message])[0]
    }

    /// Sends messages (in order per partition); returns their delivery reports in the same order.
    public func send(_ messages: [KafkaProducerMessage]) async throws -> [KafkaDeliveryReport] {
        guard !messages.isEmpty else { return [] }
        let batch = DeliveryBatch(messages.map(\.topic))
        var enqueued = 0
        do {
            for (index, message) in messages.enumerated() {
                try await enqueue(message, opaque: batch.opaque(index))
                enqueued += 1
            }
        } catch {
            batch.stopExpecting(after: enqueued, error: error as? KafkaError)
        }
        return try await batch.reports()
    }

    private func enqueue(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer) async throws {
        let topic = topics.handle(message.topic, client: client)
        while true {
            let result = produce(message, topic: topic, opaque: opaque)
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

    private func produce(_ message: KafkaProducerMessage, topic: OpaquePointer, opaque: UnsafeMutableRawPointer)
        -> rd_kafka_resp_err_t
    {
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
        let result = message.value.withUnsafeBytes { value in
            withKey(message.key) { key, keyLength in
                relay_rd_kafka_produce(
                    client.handle, topic, message.partition ?? RD_KAFKA_PARTITION_UA, key, keyLength,
                    value.baseAddress, value.count, headers, message.timestamp ?? 0, opaque)
            }
        }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
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
            throw KafkaError.rdkafka(
                result, "flushing the producer (\(rd_kafka_outq_len(client.handle)) messages left)")
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

/// The delivery reports of one `send` call. Each message's opaque points at its slot in one buffer (its index);
/// the batch is retained once per message in flight and released by the delivery report.
///
/// @unchecked Sendable: `state` is behind a Mutex; slot i is written by the sender before message i is handed
/// to librdkafka and read by the delivery report after librdkafka hands it back (its queues order the two).
final class DeliveryBatch: @unchecked Sendable {
    private struct State {
        var reports: [KafkaDeliveryReport?]
        var expected: Int
        var done = 0
        var error: KafkaError?
        var continuation: CheckedContinuation<[KafkaDeliveryReport], any Error>?
    }

    private let state: Mutex<State>
    private let topics: [String]
    /// slots[i] = i; a message's opaque is &slots[i], so the report finds its index without an allocation.
    private let slots: UnsafeMutablePointer<DeliverySlot>

    init(_ topics: [String]) {
        self.topics = topics
        state = Mutex(State(reports: Array(repeating: nil, count: topics.count), expected: topics.count))
        slots = .allocate(capacity: topics.count)
        for index in topics.indices { (slots + index).initialize(to: DeliverySlot(index: index, batch: nil)) }
    }

    deinit {
        slots.deinitialize(count: topics.count)
        slots.deallocate()
    }

    /// The opaque for message `index`; retains the batch until its delivery report.
    func opaque(_ index: Int) -> UnsafeMutableRawPointer {
        slots[index].batch = Unmanaged.passRetained(self)
        return UnsafeMutableRawPointer(slots + index)
    }

    /// Called from the delivery report callback with a message's opaque.
    static func delivered(_ opaque: UnsafeMutableRawPointer, _ message: rd_kafka_message_t) {
        let slot = opaque.assumingMemoryBound(to: DeliverySlot.self).pointee
        guard let batch = slot.batch?.takeRetainedValue() else { return }
        if message.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            batch.complete(
                index: slot.index,
                result: .success(
                    KafkaDeliveryReport(
                        topic: batch.topics[slot.index], partition: message.partition, offset: message.offset)))
        } else {
            batch.complete(
                index: slot.index, result: .failure(.rdkafka(message.err, "delivering to \(batch.topics[slot.index])")))
        }
    }

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

    /// Enqueuing stopped early: only the first `count` messages will report. The failed message's retain is
    /// given back here.
    func stopExpecting(after count: Int, error: KafkaError?) {
        if count < topics.count, let retained = slots[count].batch {
            slots[count].batch = nil
            retained.release()
        }
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

/// One message's place in its batch.
struct DeliverySlot {
    let index: Int
    var batch: Unmanaged<DeliveryBatch>?
}

/// librdkafka topic handles by name, created once per producer (a name lookup per message is measurable).
/// Destroyed with the producer.
final class TopicHandles: Sendable {
    private let handles = Mutex<[String: UnsafeSendableHandle]>([:])

    func handle(_ name: String, client: RDKafkaClient) -> OpaquePointer {
        handles.withLock { handles in
            if let handle = handles[name] { return handle.pointer }
            // rd_kafka_topic_new: a reference we release in destroyAll.
            let pointer = rd_kafka_topic_new(client.handle, name, nil)!
            handles[name] = UnsafeSendableHandle(pointer: pointer)
            return pointer
        }
    }

    func destroyAll() {
        handles.withLock { handles in
            for handle in handles.values { rd_kafka_topic_destroy(handle.pointer) }
            handles.removeAll()
        }
    }
}

/// A librdkafka handle passed between threads. @unchecked Sendable: librdkafka's topic handles are refcounted
/// and thread-safe.
struct UnsafeSendableHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
