import Foundation
import RelayKafka
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

/// The bus contract of docs/architecture.md, checked the same way on the embedded bus and on Kafka.
@Suite struct TransportConformanceTests {
    enum Kind: String, CustomTestStringConvertible, Sendable {
        case embedded, kafka
        var testDescription: String { rawValue }
        static let available: [Kind] = TestBroker.isAvailable ? [.embedded, .kafka] : [.embedded]
    }

    /// Opens transports over one backing store: a SQLite file, or the test broker.
    final class Fixture: Sendable {
        let kind: Kind
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-conformance-\(UUID().uuidString)")
        let topic = uniqueName("conformance")
        /// Group names of this test: groups are shared broker-wide, and tests run in parallel.
        let g = uniqueName("g")
        let other = uniqueName("other")
        let reader = uniqueName("reader")
        let open = Mutex<[KafkaTransport]>([])

        init(_ kind: Kind) throws {
            self.kind = kind
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        func transport() throws -> any Transport {
            switch kind {
            case .embedded:
                let database = try SQLiteDatabase(path: directory.appendingPathComponent("bus.sqlite").path)
                return try EmbeddedBus(database: database, pollInterval: .milliseconds(20))
            case .kafka:
                var configuration = KafkaTransportConfiguration(client: TestBroker.client)
                configuration.sessionTimeoutMilliseconds = 6_000
                configuration.heartbeatIntervalMilliseconds = 500
                configuration.defaultPartitions = 3
                let transport = try KafkaTransport(configuration: configuration, logger: quietLogger)
                open.withLock { $0.append(transport) }
                return transport
            }
        }

        func tearDown() async {
            for transport in open.withLock({ $0 }) { await transport.close() }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func with(_ kind: Kind, _ body: (Fixture) async throws -> Void) async throws {
        let fixture = try Fixture(kind)
        do {
            try await body(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func messages(_ values: [String], topic: String) -> [BusMessage] {
        values.map {
            BusMessage(topic: topic, key: "k", value: Array($0.utf8), headers: ["h": $0, "relay.kind": "test"])
        }
    }

    func text(_ delivery: Delivery?) -> String? { delivery.map { String(decoding: $0.message.value, as: UTF8.self) } }

    @Test(arguments: Kind.available)
    func deliversInOrderPerKeyWithKeysAndHeaders(kind: Kind) async throws {
        try await with(kind) { fixture in
            let bus = try fixture.transport()
            try await bus.publish(messages(["a", "b", "c"], topic: fixture.topic))
            let subscription = try await bus.subscribe(topic: fixture.topic, group: fixture.g)
            var deliveries: [Delivery] = []
            for _ in 0..<3 { deliveries.append(try #require(try await subscription.next())) }
            #expect(deliveries.map(text) == ["a", "b", "c"])
            #expect(deliveries[1].message.headers == ["h": "b", "relay.kind": "test"])
            #expect(deliveries[1].message.key == "k")
            #expect(deliveries[0].offset < deliveries[1].offset && deliveries[1].offset < deliveries[2].offset)
            await subscription.close()
        }
    }

    /// What was not acknowledged, or not in the contiguous acknowledged prefix, comes again to the next member of
    /// the group; another group reads everything from the start.
    @Test(arguments: Kind.available)
    func unacknowledgedWorkIsRedeliveredToTheNextMember(kind: Kind) async throws {
        try await with(kind) { fixture in
            let bus = try fixture.transport()
            try await bus.publish(messages(["1", "2", "3", "4"], topic: fixture.topic))
            let subscription = try await bus.subscribe(topic: fixture.topic, group: fixture.g)
            let one = try #require(try await subscription.next())
            _ = try #require(try await subscription.next())
            let three = try #require(try await subscription.next())
            try await subscription.acknowledge(one)
            try await subscription.acknowledge(three) // 2 is still in flight: the commit stays after 1
            await subscription.close()

            let restarted = try fixture.transport()
            let again = try await restarted.subscribe(topic: fixture.topic, group: fixture.g)
            // What was not acknowledged comes again. Kafka commits only the contiguous prefix, so 3 (acknowledged
            // after 2, which was not) comes again too; the embedded bus records such an acknowledgement in its
            // transaction and does not deliver 3 again.
            let expected: [String?] = kind == .embedded ? ["2", "4"] : ["2", "3", "4"]
            var seen: [String?] = []
            for _ in expected { seen.append(text(try await again.next())) }
            #expect(seen == expected)
            let other = try await restarted.subscribe(topic: fixture.topic, group: fixture.other)
            #expect(text(try await other.next()) == "1")
            await again.close()
            await other.close()
        }
    }

    /// The consume → produce step: the output is published and the input acknowledged.
    @Test(arguments: Kind.available)
    func publishingAndAcknowledgingGoTogether(kind: Kind) async throws {
        try await with(kind) { fixture in
            let bus = try fixture.transport()
            let output = fixture.topic + ".out"
            try await bus.publish(messages(["in"], topic: fixture.topic))
            let subscription = try await bus.subscribe(topic: fixture.topic, group: fixture.g)
            let delivery = try #require(try await subscription.next())
            try await bus.publish(messages(["out"], topic: output), acknowledging: [delivery])
            await subscription.close()

            let reader = try await bus.subscribe(topic: output, group: fixture.reader)
            #expect(text(try await reader.next()) == "out")
            // The input was acknowledged: the group's next member starts after it.
            try await bus.publish(messages(["marker"], topic: fixture.topic))
            let after = try await bus.subscribe(topic: fixture.topic, group: fixture.g)
            let first = try await after.next()
            #expect(text(first) == "marker", "\(String(describing: first))")
            await reader.close()
            await after.close()
        }
    }

    @Test(arguments: Kind.available)
    func aBatchHoldsWhatIsWaitingInOrder(kind: Kind) async throws {
        try await with(kind) { fixture in
            let bus = try fixture.transport()
            let values = (0..<20).map(String.init)
            try await bus.publish(messages(values, topic: fixture.topic))
            let subscription = try await bus.subscribe(topic: fixture.topic, group: fixture.g)
            var seen: [String] = []
            while seen.count < 20 {
                let batch = try await subscription.nextBatch(maximum: 8)
                #expect(!batch.isEmpty && batch.count <= 8)
                seen += batch.compactMap(text)
                for delivery in batch { try await subscription.acknowledge(delivery) }
            }
            #expect(seen == values)
            await subscription.close()
        }
    }
}
