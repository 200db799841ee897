import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// The trigger events of runs in flight are read once per run, and only what committed is kept.
@Suite struct TriggerEventCacheTests {
    static let event = TriggerEvent(id: "e-1", instance: "i", output: ["n": 1])

    /// The scope's trigger comes from the cache once read (the row changed behind the store's back is not read
    /// again), and is read again once the run has ended.
    @Test(arguments: StoreKind.all) func aRunsTriggerEventIsReadOnceWhileTheRunIsInFlight(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let store = fixture.store
            try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                _ = try tx.createRun(id: "run-1", workflow: "w", event: Self.event)
                #expect(try tx.scope(runID: "run-1").trigger == ["n": 1])
                return ((), [])
            }
            try await fixture.database.writeTransaction { db in
                try db.query("UPDATE runs SET trigger_event = ? WHERE id = ?", [.text(#"{"n":2}"#), .text("run-1")])
            }
            try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                #expect(try tx.scope(runID: "run-1").trigger == ["n": 1], "kept: not read again")
                try tx.finishRun(id: "run-1", status: .succeeded, error: nil)
                #expect(try tx.scope(runID: "run-1").trigger == ["n": 2], "the run has ended: read again")
                return ((), [])
            }
        }
    }

    /// A transaction that rolls back keeps nothing: a run created again afterwards is read as it is now.
    @Test(arguments: StoreKind.all) func whatARolledBackTransactionReadIsNotKept(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            struct Abandon: Error {}
            await #expect(throws: Abandon.self) {
                try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                    _ = try tx.createRun(id: "run-1", workflow: "w", event: Self.event)
                    #expect(try tx.scope(runID: "run-1").trigger == ["n": 1])
                    throw Abandon()
                }
            }
            let other = TriggerEvent(id: "e-1", instance: "i", output: ["n": 3])
            try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                _ = try tx.createRun(id: "run-1", workflow: "w", event: other)
                #expect(try tx.scope(runID: "run-1").trigger == ["n": 3])
                return ((), [])
            }
        }
    }

    @Test func theCacheIsBoundedInRunsAndInBytes() {
        let cache = TriggerEventCache(byteCapacity: 14, maximumBytes: 10)
        cache.keep(["a": 1], of: "r1", bytes: 7)
        cache.keep(["a": 2], of: "r2", bytes: 7)
        cache.keep(["a": 3], of: "r3", bytes: 7)
        #expect(cache["r1"] == nil, "the oldest went")
        #expect(cache["r2"] == ["a": 2])
        #expect(cache["r3"] == ["a": 3])
        cache.keep(["a": 4], of: "r4", bytes: 11)
        #expect(cache["r4"] == nil, "too large to keep")
        cache.forget("r2")
        #expect(cache["r2"] == nil)
        // Runs that come and end do not pile up.
        for index in 0..<10_000 {
            cache.keep(["a": 5], of: "run-\(index)", bytes: 1)
            cache.forget("run-\(index)")
        }
        #expect(cache.tracked <= 1024 + 3)
    }
}
