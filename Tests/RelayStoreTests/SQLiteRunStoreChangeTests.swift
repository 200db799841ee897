import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// The log of changes the stream reads: written by the store's own triggers, in commit order, pruned by age without
/// ever letting sequence numbers go back.
@Suite struct SQLRunStoreChangeTests {
    @Test(arguments: StoreKind.all) func everyStatusChangeIsLoggedInCommitOrder(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            #expect(try await store.changeSequences() == (0, 1))
            _ = try await store.transaction(acknowledging: []) { tx in (try SQLRunStoreTests.decide(tx), []) }
            _ = try await store.transaction(acknowledging: []) { tx in
                try tx.addItems(runID: "run-1", stepID: "c", items: [1, 2])
                try tx.startItem(jobID: "run-1/c[0]/1", input: [:])
                try tx.finishRun(id: "run-1", status: .succeeded, error: nil)
                return ((), [])
            }
            let changes = try await store.changes(after: 0, runID: nil, limit: 100)
            let seen = changes.map { [$0.kind.rawValue, $0.stepID ?? "-", $0.status] }
            #expect(
                seen == [
                    ["run", "-", "running"], ["step", "a", "running"], ["step", "a", "succeeded"],
                    ["step", "b", "skipped"], ["item", "c", "running"], ["run", "-", "succeeded"],
                ], "\(seen)")
            #expect(changes.allSatisfy { $0.workflow == "w" && $0.runID == "run-1" })
            #expect(changes.map(\.sequence) == Array(1...6))
            #expect(try await store.changes(after: 4, runID: "run-1", limit: 100).map(\.sequence) == [5, 6])
            #expect(try await store.changes(after: 0, runID: "run-2", limit: 100).isEmpty)

            // Pruned to nothing by age but the latest: the next change continues the sequence.
            #expect(try await store.pruneChanges(before: RunTime.now() + 60) == 5)
            #expect(try await store.changeSequences() == (6, 6))
            _ = try await store.transaction(acknowledging: []) { tx in
                (try tx.reopenRun(id: "run-1"), [])
            }
            #expect(try await store.changes(after: 6, runID: nil, limit: 10).map(\.sequence) == [7])
        }
    }
}
