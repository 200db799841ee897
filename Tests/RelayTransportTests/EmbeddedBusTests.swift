import Foundation
import RelayCore
import RelayTransport
import Testing

@Suite struct EmbeddedBusTests {
    func withBus(retention: Duration = .seconds(3600), _ body: (EmbeddedBus, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bus.sqlite").path
        let bus = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20), retention: retention)
        try await body(bus, path)
    }

    func messages(_ values: [String], topic: String = "t") -> [BusMessage] {
        values.map { BusMessage(topic: topic, key: "k", value: Array($0.utf8), headers: ["h": $0]) }
    }

    @Test func deliversInOrderWithKeysAndHeaders() async throws {
        try await withBus { bus, _ in
            try await bus.publish(messages(["a", "b"]))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            let first = try #require(try await subscription.next())
            let second = try #require(try await subscription.next())
            #expect(String(decoding: first.message.value, as: UTF8.self) == "a")
            #expect(second.message.headers == ["h": "b"])
            #expect(first.offset < second.offset)
            await subscription.close()
        }
    }

    /// A crash loses nothing: what was not acknowledged, or not in the contiguous acknowledged prefix, comes again
    /// to the next member of the group, from another process opening the same file.
    @Test func unacknowledgedWorkIsRedeliveredAfterARestart() async throws {
        try await withBus { bus, path in
            try await bus.publish(messages(["1", "2", "3", "4"]))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            let one = try #require(try await subscription.next())
            _ = try #require(try await subscription.next())
            let three = try #require(try await subscription.next())
            try await subscription.acknowledge(one)
            try await subscription.acknowledge(three)  // 2 is still in flight: the commit stays after 1
            await subscription.close()

            let restarted = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20))
            let again = try await restarted.subscribe(topic: "t", group: "g")
            var seen: [String] = []
            for _ in 0..<3 { seen.append(String(decoding: try #require(try await again.next()).message.value, as: UTF8.self)) }
            #expect(seen == ["2", "3", "4"])
            // Another group starts from the beginning.
            let other = try await restarted.subscribe(topic: "t", group: "other")
            #expect(String(decoding: try #require(try await other.next()).message.value, as: UTF8.self) == "1")
            await again.close()
            await other.close()
        }
    }

    @Test func publishingAndAcknowledgingCommitTogether() async throws {
        try await withBus { bus, _ in
            try await bus.publish(messages(["in"], topic: "input"))
            let subscription = try await bus.subscribe(topic: "input", group: "g")
            let delivery = try #require(try await subscription.next())
            try await bus.publish(messages(["out"], topic: "output"), acknowledging: [delivery])
            await subscription.close()
            let after = try await bus.subscribe(topic: "input", group: "g")
            let published = try await bus.fetch(topic: "output", after: 0, limit: 10)
            #expect(published.count == 1)
            // Nothing left for the group on the input topic.
            let pending = Task { try await after.next() }
            try await Task.sleep(for: .milliseconds(200))
            await after.close()
            #expect(try await pending.value == nil)
        }
    }

    @Test func retentionDeletesOnlyWhatEveryGroupConsumed() async throws {
        try await withBus(retention: .seconds(0)) { bus, _ in
            try await bus.publish(messages(["1", "2"]))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            let one = try #require(try await subscription.next())
            try await subscription.acknowledge(one)
            try await Task.sleep(for: .milliseconds(1100))
            try await bus.applyRetention()
            let left = try await bus.fetch(topic: "t", after: 0, limit: 10)
            #expect(left.map { String(decoding: $0.message.value, as: UTF8.self) } == ["2"])
            await subscription.close()
        }
    }
}
