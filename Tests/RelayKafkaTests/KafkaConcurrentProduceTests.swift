import Foundation
import RelayKafka
import RelayTestSupport
import RelayTransport
import Testing

/// Several producers writing to one partition at once, read by a consumer while they write: the consumer gets every
/// message, at contiguous offsets. The pipeline has several writers per partition all the time (every worker writes
/// results, the dispatcher and a test's own producer write jobs), and a consumer reads at the end of the log.
///
/// Tansu (the test broker) reserves a batch's offsets, then stores the batch; a fetch between the two that finds a
/// later writer's batch already stored returned it, and the consumer moved past the earlier batch for good (the
/// lost job of the chaos test, docs/kafka.md). The test broker's proxy now forwards one produce at a time.
@Suite(.enabled(if: TestBroker.isAvailable, TestBroker.skipReason))
struct KafkaConcurrentProduceTests {
    @Test func aConsumerGetsEveryMessageThatConcurrentProducersWriteToOnePartition() async throws {
        let admin = try KafkaAdmin(configuration: TestBroker.client, logger: quietLogger)
        let topic = uniqueName("concurrent")
        let created = try await admin.createTopics([TopicDeclaration(name: topic, partitions: 1)])
        #expect(try created[topic]?.get() == .created)
        await admin.close()

        let consumer = try KafkaConsumer(
            configuration: TestBroker.consumer(group: uniqueName("g")), topics: [topic], logger: quietLogger)
        #expect(await waitFor { consumer.hasJoined }, "the consumer joins its group")
        let received = Collected<KafkaConsumerMessage>()
        let reader = Task {
            while let message = try await consumer.next() {
                consumer.acknowledge(message)
                await received.append(message)
            }
        }

        // Each producer has one message in flight at a time: the writers overlap with one another, not with
        // themselves. (Through the proxy that let produces overlap, this many lost a few messages most runs.)
        let producers = 10
        let perProducer = 1_500
        let lastOffset = try await withThrowingTaskGroup(of: Int64.self) { group in
            for writer in 0..<producers {
                group.addTask {
                    let producer = try KafkaProducer(
                        configuration: KafkaProducerConfiguration(client: TestBroker.client), logger: quietLogger)
                    var last: Int64 = -1
                    for index in 0..<perProducer {
                        let value = Array("\(writer)-\(index)".utf8)
                        let report = try await producer.send(
                            KafkaProducerMessage(topic: topic, partition: 0, key: nil, value: value))
                        last = max(last, report.offset)
                    }
                    await producer.close()
                    return last
                }
            }
            return try await group.reduce(-1) { max($0, $1) }
        }
        // The partition is read in order: once the last offset written is in, everything the consumer will get is.
        let reachedEnd = await waitFor(seconds: 120) { await received.items.contains { $0.offset == lastOffset } }
        #expect(reachedEnd, "the consumer reads up to offset \(lastOffset)")
        await consumer.close()
        try await reader.value

        let messages = await received.items
        let values = Set(messages.map { String(decoding: $0.value, as: UTF8.self) })
        let sent = Set((0..<producers).flatMap { writer in (0..<perProducer).map { "\(writer)-\($0)" } })
        let missing = sent.subtracting(values).sorted()
        #expect(missing.isEmpty, "\(missing.count) message(s) never reached the consumer: \(missing.prefix(10))")
        let offsets = Set(messages.map(\.offset))
        let gaps = (0...lastOffset).filter { !offsets.contains($0) }
        #expect(gaps.isEmpty, "offsets the consumer skipped: \(gaps.prefix(10))")
    }
}
