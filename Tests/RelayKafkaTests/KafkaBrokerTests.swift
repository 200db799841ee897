import Foundation
import RelayKafka
import RelayTestSupport
import RelayTransport
import Testing

/// Against the real test broker (Tansu through the ApiVersions proxy).
@Suite(.enabled(if: TestBroker.isAvailable, TestBroker.skipReason))
struct KafkaBrokerTests {
    func withTopic(partitions: Int, _ body: (String) async throws -> Void) async throws {
        let admin = try KafkaAdmin(configuration: TestBroker.client, logger: quietLogger)
        let topic = uniqueName("test")
        let created = try await admin.createTopics([TopicDeclaration(name: topic, partitions: partitions)])
        #expect(try created[topic]?.get() == .created)
        await admin.close()
        try await body(topic)
    }

    @Test func aRoundTripKeepsKeysHeadersTimestampsAndOrderPerKey() async throws {
        try await withTopic(partitions: 3) { topic in
            let producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(client: TestBroker.client), logger: quietLogger)
            let sent = (0..<60).map { index in
                KafkaProducerMessage(
                    topic: topic, key: Array("key-\(index % 4)".utf8), value: Array("value-\(index)".utf8),
                    headers: [KafkaHeader("index", "\(index)"), KafkaHeader(name: "bytes", value: [0, 255, 1])],
                    timestamp: 1_700_000_000_000 + Int64(index))
            }
            let reports = try await producer.send(sent)
            #expect(reports.count == 60)
            await producer.close()

            let consumer = try KafkaConsumer(
                configuration: TestBroker.consumer(group: uniqueName("g")), topics: [topic], logger: quietLogger)
            var received: [KafkaConsumerMessage] = []
            for try await message in consumer.messages {
                received.append(message)
                consumer.acknowledge(message)
                if received.count == 60 { break }
            }
            await consumer.close()
            let byIndex = Dictionary(
                uniqueKeysWithValues: received.map { (Int(String(decoding: $0.headers[0].value, as: UTF8.self))!, $0) })
            #expect(byIndex.count == 60)
            for (index, message) in byIndex {
                #expect(message.key == sent[index].key)
                #expect(message.value == sent[index].value)
                #expect(message.headers == sent[index].headers)
                #expect(message.timestamp == sent[index].timestamp)
                #expect(message.partition == reports[index].partition && message.offset == reports[index].offset)
            }
            // One key, one partition, in the order sent.
            for key in 0..<4 {
                let indices = received.filter { $0.key == Array("key-\(key)".utf8) }.map {
                    Int(String(decoding: $0.headers[0].value, as: UTF8.self))!
                }
                #expect(indices == indices.sorted())
                #expect(Set(received.filter { $0.key == Array("key-\(key)".utf8) }.map(\.partition)).count == 1)
            }
        }
    }

    @Test func membersOfAGroupShareThePartitionsAsTheGroupGrows() async throws {
        try await withTopic(partitions: 6) { topic in
            let group = uniqueName("g")
            let first = try KafkaConsumer(
                configuration: TestBroker.consumer(group: group), topics: [topic], logger: quietLogger)
            let second = try KafkaConsumer(
                configuration: TestBroker.consumer(group: group), topics: [topic], logger: quietLogger)
            let all = Set((0..<6).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) })
            func split(_ members: [KafkaConsumer]) -> Bool {
                let assignments = members.map(\.assignment)
                return assignments.allSatisfy { !$0.isEmpty } && assignments.reduce(0) { $0 + $1.count } == 6
                    && assignments.reduce(Set()) { $0.union($1) } == all
            }
            #expect(
                await waitFor { split([first, second]) }, "two members: \(first.assignment) / \(second.assignment)")
            let third = try KafkaConsumer(
                configuration: TestBroker.consumer(group: group), topics: [topic], logger: quietLogger)
            #expect(
                await waitFor { split([first, second, third]) },
                "three members: \(first.assignment) / \(second.assignment) / \(third.assignment)")

            try await Self.everyMessageGoesToTheOwnerOfItsPartition(topic: topic, members: [first, second, third])
        }
    }

    /// Every message goes to exactly one member: the one that owns its partition.
    static func everyMessageGoesToTheOwnerOfItsPartition(topic: String, members: [KafkaConsumer]) async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: TestBroker.client), logger: quietLogger)
        _ = try await producer.send(
            (0..<300).map { KafkaProducerMessage(topic: topic, key: Array("k\($0)".utf8), value: Array("\($0)".utf8)) })
        // Then an end marker on each partition: a partition is read in order, so once every marker is in,
        // everything before them is too, and a message delivered twice would be there as well.
        let end = Array("end".utf8)
        _ = try await producer.send(
            (0..<6).map {
                KafkaProducerMessage(topic: topic, partition: Int32($0), key: nil, value: end)
            })
        await producer.close()
        let received = members.map { _ in Collected<KafkaConsumerMessage>() }
        let readers = members.indices.map { Self.read(members[$0], into: received[$0]) }
        let markers = await waitFor { await Self.partitions(of: end, in: received).count == 6 }
        #expect(markers, "every partition's end marker arrives")
        let assignments = members.map(\.assignment)
        for member in members { await member.close() }
        for reader in readers { try await reader.value }
        var values: [String] = []
        for (index, log) in received.enumerated() {
            let messages = await log.items.filter { $0.value != end }
            #expect(!messages.isEmpty, "member \(index) got messages")
            let partitions = Set(messages.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) })
            #expect(partitions.isSubset(of: assignments[index]), "member \(index) read only its own partitions")
            values += messages.map { String(decoding: $0.value, as: UTF8.self) }
        }
        #expect(values.count == 300)
        #expect(Set(values) == Set((0..<300).map(String.init)))
    }

    /// Takes and acknowledges every message of `member` into `log` until the member is closed.
    static func read(_ member: KafkaConsumer, into log: Collected<KafkaConsumerMessage>) -> Task<Void, Error> {
        Task {
            while let message = try await member.next() {
                member.acknowledge(message)
                await log.append(message)
            }
        }
    }

    /// The partitions on which `value` has arrived, over all logs.
    static func partitions(of value: [UInt8], in logs: [Collected<KafkaConsumerMessage>]) async -> Set<Int32> {
        var partitions = Set<Int32>()
        for log in logs { partitions.formUnion(await log.items.filter { $0.value == value }.map(\.partition)) }
        return partitions
    }

    @Test(.timeLimit(.minutes(3))) func aTopicPrefixKeepsTwoInstallationsApartOnOneBroker() async throws {
        func transport(_ prefix: String) throws -> KafkaTransport {
            var configuration = KafkaTransportConfiguration(client: TestBroker.client)
            configuration.sessionTimeoutMilliseconds = 6_000
            configuration.heartbeatIntervalMilliseconds = 500
            configuration.defaultPartitions = 2
            configuration.topicPrefix = prefix
            return try KafkaTransport(configuration: configuration, logger: quietLogger)
        }
        let (staging, production) = (uniqueName("staging") + ".", uniqueName("production") + ".")
        let (a, b) = (try transport(staging), try transport(production))
        try await a.publish(
            (0..<5).map { BusMessage(topic: "relay.events", key: "k\($0)", value: Array("staging \($0)".utf8)) })
        try await b.publish([BusMessage(topic: "relay.events", key: "k", value: Array("production".utf8))])

        // On the broker the topics carry the prefix; inside Relay the name stays logical.
        let admin = try KafkaAdmin(configuration: TestBroker.client, logger: quietLogger)
        #expect(try await admin.describeTopicNames([staging + "relay.events", production + "relay.events"]).count == 2)
        await admin.close()
        let subscription = try await a.subscribe(topic: "relay.events", group: "dispatcher")
        var values: [String] = []
        while values.count < 5, let delivery = try await subscription.next() {
            #expect(delivery.message.topic == "relay.events")
            values.append(String(decoding: delivery.message.value, as: UTF8.self))
            try await a.publish([], acknowledging: [delivery])
        }
        #expect(values.sorted() == (0..<5).map { "staging \($0)" })
        await subscription.close()

        // The group is prefixed too, and acknowledging through the logical name committed: a new member of the
        // same group sees nothing old, while production's group of the same name sees production's message.
        try await a.publish([BusMessage(topic: "relay.events", key: "k", value: Array("staging after".utf8))])
        let again = try await a.subscribe(topic: "relay.events", group: "dispatcher")
        #expect(try await again.next().map { String(decoding: $0.message.value, as: UTF8.self) } == "staging after")
        let other = try await b.subscribe(topic: "relay.events", group: "dispatcher")
        #expect(try await other.next().map { String(decoding: $0.message.value, as: UTF8.self) } == "production")
        await a.close()
        await b.close()
    }
}
