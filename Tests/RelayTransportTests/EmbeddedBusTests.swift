import Foundation
import RelayCore
import RelayTestSupport
import Synchronization
import Testing

@testable import RelayTransport

@Suite struct EmbeddedBusTests {
    func withBus(
        retention: Duration = .seconds(3600), pollInterval: Duration = .milliseconds(20),
        _ body: (EmbeddedBus, String) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bus.sqlite").path
        let bus = try EmbeddedBus(
            database: try SQLiteDatabase(path: path), pollInterval: pollInterval, retention: retention)
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

    /// The sequence is the rowid (no `sqlite_sequence` write per publish), so retention keeps the latest message even
    /// when every group consumed it: positions never go back, and a group's committed position never covers a new
    /// message.
    @Test func retentionKeepsTheLatestMessageSoPositionsNeverGoBack() async throws {
        try await withBus(retention: .seconds(3600)) { bus, _ in
            try await bus.publish(messages(["1", "2"]))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            let batch = try await subscription.nextBatch(maximum: 2)
            for delivery in batch { try await subscription.acknowledge(delivery) }
            try await bus.database.transaction { db in
                try db.execute("UPDATE bus_messages SET created_at = created_at - 7200")
            }
            try await bus.applyRetention()
            let left = try await bus.fetch(topic: "t", after: 0, limit: 10)
            #expect(left.map { String(decoding: $0.message.value, as: UTF8.self) } == ["2"])
            try await bus.publish(messages(["3"]))
            let next = try #require(try await subscription.next())
            #expect(String(decoding: next.message.value, as: UTF8.self) == "3")
            #expect(next.offset > batch[1].offset)
            await subscription.close()
        }
    }

    /// Deliveries acknowledged beyond the committed prefix (an earlier one still in flight) are not delivered again
    /// after a crash: their outputs were committed with their acknowledgements. Only the one in flight is.
    @Test func whatWasAcknowledgedBeyondThePrefixIsNotDeliveredAgainAfterACrash() async throws {
        try await withBus { bus, path in
            try await bus.publish(messages(["1", "2", "3", "4"]))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            let batch = try await subscription.nextBatch(maximum: 4)
            #expect(batch.count == 4)
            // 2 and 4 done, 1 and 3 still running when the process dies.
            try await bus.publish(messages(["out-2"], topic: "o"), acknowledging: [batch[1]])
            try await bus.publish(messages(["out-4"], topic: "o"), acknowledging: [batch[3]])

            // A new process on the same file.
            let again = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20))
            let resumed = try await again.subscribe(topic: "t", group: "g")
            let first = try #require(try await resumed.next())
            #expect(String(decoding: first.message.value, as: UTF8.self) == "1")
            try await resumed.acknowledge(first)
            let second = try #require(try await resumed.next())
            #expect(String(decoding: second.message.value, as: UTF8.self) == "3", "2 was acknowledged before")
            try await resumed.acknowledge(second)
            // The prefix has passed 2, 3 and 4: the records of 2 and 4 are gone, and a third process gets nothing.
            try await again.publish(messages(["5"]))
            let fifth = try #require(try await resumed.next())
            #expect(String(decoding: fifth.message.value, as: UTF8.self) == "5", "4 was acknowledged before")
            try await resumed.acknowledge(fifth)
            let left = try await again.database.read { db in
                try db.query("SELECT COUNT(*) FROM bus_acks").first?.first?.int ?? -1
            }
            #expect(left == 0)
            let third = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20))
            let last = try await third.subscribe(topic: "t", group: "g")
            try await third.publish(messages(["6"]))
            let sixth = try #require(try await last.next())
            #expect(String(decoding: sixth.message.value, as: UTF8.self) == "6")
            await subscription.close()
            await resumed.close()
            await last.close()
        }
    }

    /// One transaction acknowledging deliveries of two subscriptions, interleaved and out of order: each
    /// subscription's prefix and the acknowledgements beyond it are its own.
    @Test func oneTransactionAcknowledgesTwoSubscriptionsEachByItsOwnPrefix() async throws {
        try await withBus { bus, path in
            try await bus.publish(messages(["1", "2", "3"]) + messages(["a", "b", "c"], topic: "u"))
            let t = try await bus.subscribe(topic: "t", group: "g")
            let u = try await bus.subscribe(topic: "u", group: "h")
            let fromT = try await t.nextBatch(maximum: 3)
            let fromU = try await u.nextBatch(maximum: 3)
            #expect(fromT.count == 3 && fromU.count == 3)
            // t: 2 then 1 (the prefix passes both); u: a, and c beyond the prefix (b still running).
            try await bus.publish([], acknowledging: [fromT[1], fromU[0], fromT[0], fromU[2]])

            let again = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20))
            let t2 = try await again.subscribe(topic: "t", group: "g")
            let u2 = try await again.subscribe(topic: "u", group: "h")
            #expect(text(try await t2.next()) == "3")
            let b = try #require(try await u2.next())
            #expect(text(b) == "b", "a and c were acknowledged")
            try await u2.acknowledge(b)
            try await again.publish(messages(["d"], topic: "u"))
            let d = try #require(try await u2.next())
            #expect(text(d) == "d", "c was acknowledged before")
            try await u2.acknowledge(d)
            let left = try await again.database.read { db in
                try db.query("SELECT COUNT(*) FROM bus_acks").first?.first?.int ?? -1
            }
            #expect(left == 0, "the prefix passed c: its record is gone")
            for subscription in [t, u, t2, u2] { await subscription.close() }
        }
    }

    func text(_ delivery: Delivery?) -> String? { delivery.map { String(decoding: $0.message.value, as: UTF8.self) } }

    /// What this process publishes reaches its own subscriptions without a read of the table, once they have read
    /// it once.
    @Test func aLocalPublishIsHandedOverWithoutARead() async throws {
        try await withBus { bus, _ in
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            try await bus.publish(messages(["1"]))
            #expect(text(try await subscription.next()) == "1")
            let reads = bus.tableReads.load(ordering: .relaxed)
            for value in ["2", "3", "4"] {
                try await bus.publish(messages([value]))
                let delivery = try #require(try await subscription.next())
                #expect(text(delivery) == value)
                try await subscription.acknowledge(delivery)
            }
            #expect(bus.tableReads.load(ordering: .relaxed) == reads, "handed over, not read")
            await subscription.close()
        }
    }

    /// A message that kept what it was written from (`BusMessage(…, keeping:)`, `local`) is handed over with it,
    /// so that its consumer need not read its bytes; read back from the table it has nothing kept, and is equal all
    /// the same.
    @Test func aHandedOverMessageKeepsItsValuesAndOneReadFromTheTableHasNone() async throws {
        try await withBus { bus, _ in
            let json: JSONValue = ["step": 1, "text": "ä\u{0}"]
            let kept = BusMessage(topic: "t", key: "k", json: json, keeping: json)
            #expect(kept.local as? JSONValue == json)
            #expect(kept == BusMessage(topic: "t", key: "k", json: json), "what is kept is not compared")
            let large = BusMessage(
                topic: "t", key: "k", json: .string(String(repeating: "x", count: 20_000)), keeping: json)
            #expect(large.local == nil, "past keptLocalLimit, a message keeps only its bytes")

            let subscription = try await bus.subscribe(topic: "t", group: "g")
            try await bus.publish([kept])
            let read = try #require(try await subscription.next())
            #expect(read.message.local == nil, "the first delivery is read from the table")
            try await subscription.acknowledge(read)
            try await bus.publish([kept])
            let handed = try #require(try await subscription.next())
            #expect(handed.message.local as? JSONValue == json)
            #expect(try JSONParser.parse(bytes: handed.message.value) == json)
            try await subscription.acknowledge(handed)
            await subscription.close()
        }
    }

    /// Another connection's message committed between two of this process's is delivered in its place: the
    /// transaction after it sees the file changed (`PRAGMA data_version`), and the subscription reads the table.
    @Test func anotherProcessesMessageBetweenTwoLocalOnesKeepsItsPlace() async throws {
        try await withBus { bus, path in
            let other = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .milliseconds(20))
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            try await bus.publish(messages(["1"]))
            #expect(text(try await subscription.next()) == "1")
            try await other.publish(messages(["2"]))
            try await bus.publish(messages(["3"]))
            #expect(text(try await subscription.next()) == "2")
            #expect(text(try await subscription.next()) == "3")
            // And a later local one is handed over again.
            try await bus.publish(messages(["4"]))
            #expect(text(try await subscription.next()) == "4")
            await subscription.close()
        }
    }

    /// A subscription that fell behind what is kept reads the table: nothing is skipped.
    @Test func aSubscriptionBehindWhatIsKeptReadsTheTable() async throws {
        let handOff = LocalHandOff(capacity: 3)
        // The first transaction saw no earlier version: foreign.
        handOff.committed(dataVersion: 1, inserted: [])
        let subscriber = handOff.register("t")
        handOff.synced(subscriber, topic: "t", at: handOff.epoch)
        let before = handOff.epoch
        for offset in 1...5 {
            handOff.committed(
                dataVersion: 1, inserted: [(Int64(offset), BusMessage(topic: "t", key: "k", value: [UInt8(offset)]))])
        }
        #expect(handOff.take(subscriber, topic: "t") == nil, "two of five dropped: read")
        handOff.synced(subscriber, topic: "t", at: before + 2)
        #expect(handOff.take(subscriber, topic: "t")?.map(\.offset) == [3, 4, 5])
        handOff.synced(subscriber, topic: "t", at: handOff.epoch)
        handOff.committed(dataVersion: 1, inserted: [(6, BusMessage(topic: "t", key: "k", value: [6]))])
        handOff.committed(dataVersion: 1, inserted: [(7, BusMessage(topic: "u", key: "k", value: [7]))])
        let taken = try #require(handOff.take(subscriber, topic: "t"))
        #expect(taken.map(\.offset) == [6], "only its topic's, only after its epoch")
        handOff.committed(dataVersion: 2, inserted: [(8, BusMessage(topic: "t", key: "k", value: [8]))])
        #expect(
            handOff.take(subscriber, topic: "t") == nil,
            "another connection committed: read the table")
    }

    /// A subscription that fell behind what is kept and reads the table takes from the hand-off again once what it
    /// read reaches what is kept (not only after a read that was not a full batch): 5,000 messages in 50
    /// transactions, 904 of them dropped from the hand-off (4,096 kept), are four reads of 256 and the rest handed
    /// over, in order, none twice. (It read the whole 5,000 from the table before: twenty reads.)
    @Test func aSubscriptionThatReadsUpToWhatIsKeptIsHandedTheRest() async throws {
        try await withBus { bus, _ in
            let subscription = try await bus.subscribe(topic: "t", group: "g")
            for batch in 0..<50 { try await bus.publish(messages((0..<100).map { "\(batch * 100 + $0)" })) }
            let reads = bus.tableReads.load(ordering: .relaxed)
            var received: [String] = []
            while received.count < 5_000, let delivery = try await subscription.next() {
                received.append(text(delivery) ?? "")
                try await subscription.acknowledge(delivery)
            }
            #expect(received == (0..<5_000).map { "\($0)" })
            #expect(bus.tableReads.load(ordering: .relaxed) - reads == 4)
            await subscription.close()
        }
    }

    /// Another process's burst, after messages of this process that the hand-off still keeps (another group's
    /// subscription has not taken them), is read from the table batch after batch, without waiting for a poll: the
    /// hand-off learns of the other connection's commit only at this process's next transaction, so a full batch is
    /// not synced again where nothing is kept after it (it was, and each batch then waited a poll interval: an hour
    /// here).
    @Test func anotherProcessesBurstIsReadWithoutWaitingForAPoll() async throws {
        try await withBus(pollInterval: .seconds(3600)) { bus, path in
            let other = try EmbeddedBus(database: try SQLiteDatabase(path: path), pollInterval: .seconds(3600))
            let idle = try await bus.subscribe(topic: "t", group: "idle")
            let reader = try await bus.subscribe(topic: "t", group: "reader")
            try await bus.publish(messages(["0"]))
            #expect(text(try await idle.next()) == "0")
            // Kept: the idle subscription is synced before them and does not take them.
            try await bus.publish(messages((1...10).map { "\($0)" }))
            try await other.publish(messages((11...2_010).map { "\($0)" }))
            let received = Mutex<[String]>([])
            let reading = Task {
                while received.withLock({ $0.count }) < 2_011, let delivery = try await reader.next() {
                    received.withLock { $0.append(text(delivery) ?? "") }
                }
            }
            #expect(await waitFor(seconds: 300) { received.withLock { $0.count } == 2_011 })
            // (Had it waited for a poll, a local publish wakes it, cancelled: it stops.)
            reading.cancel()
            try await bus.publish(messages(["wake"]))
            _ = await reading.result
            #expect(received.withLock { $0 } == (0...2_010).map { "\($0)" })
            await idle.close()
            await reader.close()
        }
    }

    /// Synced again after a full batch read from the table only where the hand-off keeps every message after it:
    /// not before what is kept, nor when what it keeps at the read's end came from a transaction partly dropped,
    /// nor when another connection committed from there on (or right before its transaction: taking would not follow).
    @Test func aFullBatchSyncsAgainOnlyWhereEverythingAfterItIsKept() throws {
        let handOff = LocalHandOff(capacity: 4)
        handOff.committed(dataVersion: 1, inserted: [])
        let subscriber = handOff.register("t")
        handOff.synced(subscriber, topic: "t", at: handOff.epoch)
        func commit(_ offsets: ClosedRange<Int64>, dataVersion: Int64 = 1) {
            handOff.committed(
                dataVersion: dataVersion,
                inserted: offsets.map { ($0, BusMessage(topic: "t", key: "k", value: [UInt8($0)])) })
        }
        // Offsets 1-2, 3-4 (partly dropped), 5-6, 7.
        commit(1...2)
        commit(3...4)
        commit(5...6)
        commit(7...7)
        #expect(handOff.take(subscriber, topic: "t") == nil, "three of seven dropped: read")
        #expect(!handOff.resync(subscriber, topic: "t", after: 2), "before what is kept")
        #expect(!handOff.resync(subscriber, topic: "t", after: 4), "its transaction was partly dropped")
        #expect(!handOff.resync(subscriber, topic: "t", after: 7), "nothing kept after it")
        #expect(handOff.resync(subscriber, topic: "t", after: 5))
        #expect(handOff.take(subscriber, topic: "t")?.map(\.offset) == [5, 6, 7], "from its transaction on")
        commit(8...8)
        commit(9...9, dataVersion: 2)
        commit(10...11, dataVersion: 2)
        // (Read from the table again after the other connection's commit; 8 to 11 kept.)
        #expect(handOff.take(subscriber, topic: "t") == nil)
        #expect(!handOff.resync(subscriber, topic: "t", after: 8), "another connection committed after it")
        #expect(!handOff.resync(subscriber, topic: "t", after: 9), "right before its transaction")
        #expect(handOff.resync(subscriber, topic: "t", after: 10))
        #expect(handOff.take(subscriber, topic: "t")?.map(\.offset) == [10, 11])
    }

    /// A message that keeps its values counts eight times its bytes against the hand-off's byte bound: the values
    /// take more memory than the encoding.
    @Test func keptValuesCountAgainstTheByteBound() throws {
        let handOff = LocalHandOff(capacity: 100, byteCapacity: 100)
        handOff.committed(dataVersion: 1, inserted: [])
        let subscriber = handOff.register("t")
        handOff.synced(subscriber, topic: "t", at: handOff.epoch)
        func message(keeping: Bool) -> BusMessage {
            // 12 bytes: `{"n":"abcd"}`.
            BusMessage(
                topic: "t", key: "k", json: ["n": "abcd"], keeping: keeping ? JSONValue.null as (any Sendable)? : nil)
        }
        for offset in 1...8 { handOff.committed(dataVersion: 1, inserted: [(Int64(offset), message(keeping: false))]) }
        #expect(handOff.take(subscriber, topic: "t")?.count == 8, "96 bytes: all kept")
        for offset in 9...10 { handOff.committed(dataVersion: 1, inserted: [(Int64(offset), message(keeping: true))]) }
        #expect(handOff.take(subscriber, topic: "t") == nil, "two kept values count 192 bytes: one was dropped")
    }
}
