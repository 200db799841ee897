import Foundation
import RelayKafka
import RelayTestSupport
import RelayTransport
import Testing

/// Fault injection on librdkafka's in-process mock cluster: no broker needed. Serialized, and run by
/// scripts/test apart from the other suites: a mock broker brought up again re-binds its port, and librdkafka
/// 2.0.2 aborts the process if another socket took it meanwhile.
@Suite(.serialized) struct KafkaMockClusterTests {
    func producer(_ cluster: KafkaMockCluster) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [cluster.bootstrapServers]))
        configuration.lingerMilliseconds = 1
        return try KafkaProducer(configuration: configuration, logger: quietLogger)
    }

    func consumeAll(_ cluster: KafkaMockCluster, topic: String, count: Int) async throws -> [KafkaConsumerMessage] {
        var configuration = KafkaConsumerConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [cluster.bootstrapServers]), groupID: uniqueName("g"))
        configuration.sessionTimeoutMilliseconds = 6_000
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic], logger: quietLogger)
        var received: [KafkaConsumerMessage] = []
        let collector = Task {
            var received: [KafkaConsumerMessage] = []
            for try await message in consumer.messages {
                received.append(message)
                consumer.acknowledge(message)
                if received.count == count { break }
            }
            return received
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(90))
            collector.cancel()
        }
        received = (try? await collector.value) ?? []
        timeout.cancel()
        await consumer.close()
        return received
    }

    @Test func aBrokerDownForAWhileLosesNothing() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: quietLogger)
        try cluster.createTopic("t", partitions: 3)
        let producer = try producer(cluster)
        try await producer.send(
            (0..<100).map {
                KafkaProducerMessage(topic: "t", key: Array("k\($0 % 7)".utf8), value: Array("m\($0)".utf8))
            })
        cluster.setBrokerDown(1)
        // Sent while the only broker is down: librdkafka queues and retries.
        let sending = Task {
            try await producer.send(
                (100..<300).map {
                    KafkaProducerMessage(topic: "t", key: Array("k\($0 % 7)".utf8), value: Array("m\($0)".utf8))
                })
        }
        try await Task.sleep(for: .seconds(2))
        cluster.setBrokerUp(1)
        let reports = try await sending.value
        #expect(reports.count == 200)
        await producer.close()
        let received = try await consumeAll(cluster, topic: "t", count: 300)
        #expect(Set(received.map { String(decoding: $0.value, as: UTF8.self) }) == Set((0..<300).map { "m\($0)" }))
        #expect(received.count == 300, "no duplicates with the idempotent producer")
    }

    @Test func injectedProduceErrorsAreRetried() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: quietLogger)
        try cluster.createTopic("t", partitions: 1)
        let producer = try producer(cluster)
        // Produce is API key 0; these errors are retriable, so librdkafka retries and the send succeeds.
        cluster.pushRequestErrors(
            apiKey: 0,
            [
                KafkaErrorCode.notLeaderForPartition, KafkaErrorCode.requestTimedOut,
                KafkaErrorCode.notEnoughReplicas,
            ])
        let reports = try await producer.send(
            (0..<50).map { KafkaProducerMessage(topic: "t", key: nil, value: Array("m\($0)".utf8)) })
        #expect(reports.map(\.offset) == Array(0..<50), "in order, each once")
        await producer.close()
        let received = try await consumeAll(cluster, topic: "t", count: 50)
        #expect(received.map { String(decoding: $0.value, as: UTF8.self) } == (0..<50).map { "m\($0)" })
    }

    @Test func aMalformedConfigurationIsAClearErrorAtStart() throws {
        var configuration = KafkaConsumerConfiguration()
        configuration.client.properties["session.timeout.ms"] = "soon"
        #expect {
            _ = try KafkaConsumer(configuration: configuration, topics: ["t"], logger: quietLogger)
        } throws: { error in
            let error = error as? KafkaError
            return error?.code == .configuration
                && error?.message.hasPrefix("Kafka configuration: session.timeout.ms=\"soon\": ") == true
        }
        var producer = KafkaProducerConfiguration()
        producer.client.properties["no.such.property"] = "1"
        #expect {
            _ = try KafkaProducer(configuration: producer, logger: quietLogger)
        } throws: { error in
            (error as? KafkaError)?.message
                == "Kafka configuration: no.such.property=\"1\": No such configuration property: \"no.such.property\""
        }
    }
}
