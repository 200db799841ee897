import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// Dead letters kept in the SQLite run store, and the events' payloads kept for replay with their retention.
@Suite struct SQLRunStoreDeadLetterTests {
    static func withStore(_ kind: StoreKind, _ body: (SQLRunStore, any SQLDatabase) async throws -> Void)
        async throws
    {
        try await kind.withStore { fixture in try await body(fixture.store, fixture.database) }
    }

    static func letter(_ n: Int, value: [UInt8]? = nil) -> DeadLetter {
        DeadLetter(
            reason: "not an event: \(n)", sourceTopic: "relay.events", offset: Int64(100 + n), key: "key-\(n)",
            value: value ?? Array("{\"n\": \(n)}".utf8), originalHeaders: ["trace": "t-\(n)"])
    }

    /// Records `letter` as the message at `partition`/`offset` of relay.dlq; whether it was new.
    static func record(_ store: SQLRunStore, _ letter: DeadLetter, partition: Int = 0, offset: Int64) async throws
        -> Bool
    {
        try await store.transaction(acknowledging: []) { tx in
            (try tx.recordDeadLetter(letter, partition: partition, offset: offset), [])
        }
    }

    @Test(arguments: StoreKind.all) func deadLettersAreKeptListedInOrderReadAndRemoved(on kind: StoreKind) async throws
    {
        try await Self.withStore(kind) { store, database in
            for n in 1...5 { #expect(try await Self.record(store, Self.letter(n), offset: Int64(n))) }
            let all = try await store.deadLetters(limit: 10, after: nil)
            #expect(all.map(\.key) == ["key-1", "key-2", "key-3", "key-4", "key-5"])
            #expect(all.map(\.id) == all.map(\.id).sorted())
            let first = try #require(all.first)
            #expect(first.reason == "not an event: 1")
            #expect(first.sourceTopic == "relay.events")
            #expect(first.offset == 101)
            #expect(first.value == Array("{\"n\": 1}".utf8))
            #expect(first.headers == ["trace": "t-1"])
            #expect(first.excerpt == "{\"n\": 1}")
            #expect(!first.truncated)
            #expect(first.json["source_topic"] == "relay.events")
            #expect(first.json["received_at"]?.stringValue?.hasSuffix("Z") == true)
            // Paging: after an id, at most `limit`.
            #expect(try await store.deadLetters(limit: 2, after: all[1].id).map(\.key) == ["key-3", "key-4"])
            #expect(try await store.deadLetter(id: all[2].id) == all[2])

            let removed = try await store.transaction(acknowledging: []) { tx in
                (try tx.removeDeadLetter(id: all[2].id), [])
            }
            #expect(removed == all[2])
            #expect(try await store.deadLetter(id: all[2].id) == nil)
            #expect(
                try await store.deadLetters(limit: 10, after: nil).map(\.key) == ["key-1", "key-2", "key-4", "key-5"])
            let again = try await store.transaction(acknowledging: []) { tx in
                (try tx.removeDeadLetter(id: all[2].id), [])
            }
            #expect(again == nil)
            // A reader of the same file sees the same.
            let reader = SQLRunStore(readingFrom: database)
            #expect(try await reader.deadLetters(limit: 10, after: nil).count == 4)
        }
    }

    @Test(arguments: StoreKind.all) func theSameDeadLetterMessageIsKeptOnceEvenAfterItWasRemoved(on kind: StoreKind)
        async throws
    {
        try await Self.withStore(kind) { store, _ in
            #expect(try await Self.record(store, Self.letter(1), partition: 2, offset: 7))
            #expect(!(try await Self.record(store, Self.letter(1), partition: 2, offset: 7)))
            // Another partition's offset 7 is another message.
            #expect(try await Self.record(store, Self.letter(2), partition: 3, offset: 7))
            let kept = try await store.deadLetters(limit: 10, after: nil)
            #expect(kept.map(\.key) == ["key-1", "key-2"])
            // Redriven (removed), then delivered again after a crash: not brought back.
            _ = try await store.transaction(acknowledging: []) { tx in (try tx.removeDeadLetter(id: kept[0].id), []) }
            #expect(!(try await Self.record(store, Self.letter(1), partition: 2, offset: 7)))
            #expect(try await store.deadLetters(limit: 10, after: nil).map(\.key) == ["key-2"])
        }
    }

    @Test(arguments: StoreKind.all) func aValueAboveOneMebibyteIsKeptTruncatedAndSaysSo(on kind: StoreKind) async throws
    {
        try await Self.withStore(kind) { store, _ in
            let big = [UInt8](repeating: UInt8(ascii: "a"), count: DeadLetterLimits.maximumValueBytes + 10)
            #expect(try await Self.record(store, Self.letter(1, value: big), offset: 1))
            let listed = try #require(try await store.deadLetters(limit: 1, after: nil).first)
            // A list carries the excerpt's bytes only; the letter read alone carries what was kept.
            #expect(listed.value.count == DeadLetterLimits.excerptBytes)
            let kept = try #require(try await store.deadLetter(id: listed.id))
            #expect(kept.value.count == DeadLetterLimits.maximumValueBytes)
            #expect(kept.truncated)
            #expect(kept.reason.contains("kept truncated: a value of 1048586 bytes"), "\(kept.reason)")
            #expect(kept.excerpt.utf8.count == 512)
            #expect(kept.json["truncated"] == true)
        }
    }

    @Test(arguments: [0, -1, 1001])
    func aListLimitOutsideOneToAThousandIsRefused(limit: Int) async throws {
        try await Self.withStore(.sqlite) { store, _ in
            let error = await #expect(throws: RelayError.self) { try await store.deadLetters(limit: limit, after: nil) }
            #expect(error?.message == "dead letters: expected a limit from 1 to 1000, found \(limit)")
        }
    }

    // MARK: - Events' payloads

    static func recordEvents(_ store: SQLRunStore, _ events: [TriggerEvent]) async throws -> [Bool] {
        try await store.transaction(acknowledging: []) { tx in (try events.map { try tx.recordEvent($0) }, []) }
    }

    static func event(_ n: Int, instance: String = "webhook#1") -> TriggerEvent {
        TriggerEvent(
            id: "e-\(n)", instance: instance, plugin: "webhook", trigger: "webhook", output: ["n": .int(n)],
            time: 1_700_000_000 + Double(n))
    }

    @Test(arguments: StoreKind.all) func anEventsPayloadIsKeptAndReadByInstanceAndTime(on kind: StoreKind) async throws
    {
        try await Self.withStore(kind) { store, _ in
            let before = RunTime.now()
            let recorded = try await Self.recordEvents(
                store, [Self.event(1), Self.event(2, instance: "other"), Self.event(3)])
            #expect(recorded == [true, true, true])
            let after = RunTime.now()
            let kept = try await store.events(instance: "webhook#1", since: before, until: after, limit: 10)
            #expect(kept == [Self.event(1), Self.event(3)])
            #expect(
                try await store.events(instance: "webhook#1", since: before, until: after, limit: 1) == [Self.event(1)])
            #expect(
                try await store.events(instance: "webhook#1", since: after + 1, until: after + 10, limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreKind.all) func pastTheRetentionThePayloadIsDroppedAndTheIdStillDeduplicates(
        on kind: StoreKind
    ) async throws {
        try await Self.withStore(kind) { store, _ in
            let before = RunTime.now()
            _ = try await Self.recordEvents(store, [Self.event(1), Self.event(2)])
            // Kept an hour: an hour and a half later, neither payload is.
            let dropped = try await store.transaction(acknowledging: []) { tx in
                (try tx.applyEventRetention(seconds: 3600, now: RunTime.now() + 5400, limit: 1000), [])
            }
            #expect(dropped == 2)
            #expect(
                try await store.events(instance: "webhook#1", since: before, until: before + 86_400, limit: 10).isEmpty)
            // A redelivered event is still recognised.
            #expect(try await Self.recordEvents(store, [Self.event(1)]) == [false])
            // Within the retention nothing is dropped.
            _ = try await Self.recordEvents(store, [Self.event(3)])
            let none = try await store.transaction(acknowledging: []) { tx in
                (try tx.applyEventRetention(seconds: 3600, now: RunTime.now(), limit: 1000), [])
            }
            #expect(none == 0)
            #expect(
                try await store.events(instance: "webhook#1", since: before, until: RunTime.now(), limit: 10)
                    == [Self.event(3)])
        }
    }

    @Test(arguments: StoreKind.all) func withARetentionOfZeroNoPayloadIsKept(on kind: StoreKind) async throws {
        try await Self.withStore(kind) { store, _ in
            let before = RunTime.now()
            _ = try await store.transaction(acknowledging: []) { tx in
                (try tx.applyEventRetention(seconds: 0, now: RunTime.now(), limit: 1000), [])
            }
            #expect(try await Self.recordEvents(store, [Self.event(1)]) == [true])
            #expect(
                try await store.events(instance: "webhook#1", since: before, until: RunTime.now(), limit: 10).isEmpty)
            #expect(try await Self.recordEvents(store, [Self.event(1)]) == [false])
        }
    }

    @Test func aReaderOfAFileWrittenBeforePayloadsAndDeadLettersReadsNothing() async throws {
        try await SQLRunStoreTests.withDatabase { database in
            try database.syncExecute(
                "CREATE TABLE events (event_id TEXT PRIMARY KEY, instance TEXT NOT NULL, received_at REAL NOT NULL)")
            let reader = SQLRunStore(readingFrom: database)
            #expect(try await reader.events(instance: "i", since: 0, until: 1e10, limit: 10).isEmpty)
            #expect(try await reader.deadLetters(limit: 10, after: nil).isEmpty)
            #expect(try await reader.deadLetter(id: 1) == nil)
        }
    }
}
