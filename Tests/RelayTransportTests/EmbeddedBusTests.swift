import Foundation
import RelayCore
import RelayTransport
import Testing

@Suite struct EmbeddedBusTests {
    func withBus(retention: Duration = .seconds(3600), _ body: (EmbeddedBus, String) async throws -> Void) async throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bus.sqlite").path
        let bus = try EmbeddedBus(
            database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20), retention: retention)
        try await body(bus, path)
    }

    func messages(_ values: [String], topic: String = "t") -> [BusMessage] {
        values.map { BusMessage(topic: topic, key: "k", value: Array($0.utf8), headers: ["h": $0]) }
    }

    // Order, keys and headers, redelivery of the unacknowledged tail, publish-and-acknowledge: the transport
    // conformance suite (RelayKafkaTests/TransportConformanceTests) checks them on this bus and on Kafka.

    @Test func retentionDeletesOnlyWhatEveryGroupConsumed() async throws {
        try await withBus(retention: .seconds(3600)) { bus, _ in
            try await bus.publish(messages(["1", "2"]))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            let one = try #require(try await subscription.next())
            try await subscription.acknowledge(one)
            func left() async throws -> [String] {
                try await bus.fetch(topic: "t", after: 0, limit: 10)
                    .map { String(decoding: $0.message.value, as: UTF8.self) }
            }
            try await bus.applyRetention()
            #expect(try await left() == ["1", "2"], "younger than the retention: kept, consumed or not")
            // Two hours old (set, not waited for).
            try await bus.database.transaction { db in
                try db.execute("UPDATE bus_messages SET created_at = created_at - 7200")
            }
            try await bus.applyRetention()
            #expect(try await left() == ["2"], "older than the retention: deleted once every group consumed it")
            await subscription.close()
        }
    }
}
