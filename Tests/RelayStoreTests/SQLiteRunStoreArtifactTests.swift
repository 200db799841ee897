import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// Artifacts and global artifacts in the SQLite run store: kept once per job, read in the order they were made,
/// within their limits, and global artifacts shared across runs and transactions.
@Suite struct SQLRunStoreArtifactTests {
    static let event = TriggerEvent(id: "e-1", instance: "i", output: [:])

    static func artifact(
        _ stepID: String, runID: String = "run-1", name: String? = nil, content: String = "# hi", at: Double = 1_000
    ) -> RunArtifact {
        RunArtifact(
            runID: runID, stepID: stepID, jobID: JobRoute.jobID(runID: runID, stepID: stepID, attempt: 1),
            name: name ?? stepID, format: .markdown, content: content, createdAt: at)
    }

    @Test(arguments: StoreKind.all) func anArtifactIsKeptOncePerJobAndReadInTheOrderTheyWereMade(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let database = fixture.database
            let store = fixture.store
            _ = try await store.transaction(acknowledging: []) { tx throws -> (Void, [BusMessage]) in
                #expect(try tx.createRun(id: "run-1", workflow: "w", event: Self.event))
                // Made in this order (the clock of the second is earlier: the order is the order of making).
                try tx.addArtifact(Self.artifact("summary", name: "Alert summary", content: "# Alert 7", at: 2_000))
                try tx.addArtifact(Self.artifact("report", content: "<p>ok</p>", at: 1_000))
                // A redelivered decision adds the same job's artifact again: nothing changes.
                try tx.addArtifact(Self.artifact("summary", name: "Alert summary", content: "# other", at: 3_000))
                try tx.addArtifact(Self.artifact("summary", runID: "run-2", content: "elsewhere"))
                return ((), [])
            }
            let reader = SQLRunStore(readingFrom: database)
            let artifacts = try await reader.artifacts(runID: "run-1")
            #expect(artifacts.map(\.name) == ["Alert summary", "report"])
            #expect(artifacts.map(\.content) == ["# Alert 7", "<p>ok</p>"])
            #expect(artifacts.first?.format == .markdown)
            #expect(artifacts.first?.jobID == "run-1/summary/1")
            #expect(artifacts.first?.createdAt == 2_000)
            #expect(try await reader.artifacts(runID: "run-2").map(\.content) == ["elsewhere"])
            #expect(try await reader.artifacts(runID: "run-3").isEmpty)

            let run = try #require(try await reader.run(id: "run-1"))
            #expect(run.artifacts == artifacts)
            let shown = try #require(run.json["artifacts"]?.arrayValue?.first)
            #expect(shown["name"] == "Alert summary")
            #expect(shown["step"] == "summary")
            #expect(shown["format"] == "markdown")
            #expect(shown["size"] == 9)
            #expect(shown["content"] == "# Alert 7")
        }
    }

    @Test(arguments: StoreKind.all) func anArtifactOverOneMiBIsRefusedNamingTheLimitAndTheDecisionGoesOn(
        on kind: StoreKind
    ) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            let limit = ArtifactLimits.maximumContentBytes
            #expect(limit == 1_048_576)
            let message = try await store.transaction(acknowledging: []) { tx throws -> (String, [BusMessage]) in
                // Exactly the limit is kept (in bytes: "é" is two).
                try tx.addArtifact(Self.artifact("full", content: String(repeating: "é", count: limit / 2)))
                var message = ""
                do {
                    try tx.addArtifact(Self.artifact("big", content: String(repeating: "a", count: limit + 1)))
                } catch let error as RelayError {
                    message = error.message
                }
                // The dispatcher fails the step and goes on in the same transaction.
                try tx.addArtifact(Self.artifact("after"))
                return (message, [])
            }
            #expect(message.contains("1 MiB"), "\(message)")
            #expect(message.contains("artifact \"big\" of step big"), "\(message)")
            #expect(message.contains("\(limit + 1) bytes"), "\(message)")
            #expect(try await store.artifacts(runID: "run-1").map(\.stepID) == ["full", "after"])
            #expect(try await store.artifacts(runID: "run-1").first?.size == limit)
        }
    }

    @Test(arguments: StoreKind.all) func globalArtifactsAreAppendedAndLookedUpAcrossTransactions(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let database = fixture.database
            let store = fixture.store
            let counts = try await store.transaction(acknowledging: []) { tx throws -> ([Int], [BusMessage]) in
                #expect(try tx.globalArtifactEntries(name: "Exclusions").isEmpty)
                let counts = [
                    try tx.appendGlobalArtifact(name: "Exclusions", entry: ["host": "a"], runID: "run-1", stepID: "s"),
                    try tx.appendGlobalArtifact(name: "Exclusions", entry: ["host": "b"], runID: "run-1", stepID: "s"),
                ]
                return (counts, [])
            }
            #expect(counts == [1, 2])
            // A later transaction (another run) sees them, and appends after them.
            let seen = try await store.transaction(acknowledging: []) { tx throws -> ([JSONValue], [BusMessage]) in
                let seen = try tx.globalArtifactEntries(name: "Exclusions")
                #expect(
                    try tx.appendGlobalArtifact(name: "Exclusions", entry: ["host": "c"], runID: "run-2", stepID: "t")
                        == 3)
                #expect(try tx.appendGlobalArtifact(name: "Allow", entry: ["n": 1], runID: "run-2", stepID: "t") == 1)
                return (seen, [])
            }
            #expect(seen == [["host": "a"], ["host": "b"]])

            let reader = SQLRunStore(readingFrom: database)
            #expect(
                try await reader.globalArtifact(name: "Exclusions") == [["host": "a"], ["host": "b"], ["host": "c"]])
            #expect(try await reader.globalArtifact(name: "Allow") == [["n": 1]])
            #expect(try await reader.globalArtifact(name: "exclusions") == nil, "names are exact")
            let summaries = try await reader.globalArtifacts()
            #expect(summaries.map(\.name) == ["Allow", "Exclusions"])
            #expect(summaries.map(\.entries) == [1, 3])
            #expect(summaries.allSatisfy { $0.updatedAt > 0 })
        }
    }

    @Test(arguments: StoreKind.all) func aGlobalArtifactEntryOver64KiBOrPastTheMostEntriesIsRefusedNamingTheLimit(
        on kind: StoreKind
    ) async throws {
        try await kind.withStore { fixture in
            let database = fixture.database
            let store = fixture.store
            // `{"v":"…"}`: 8 bytes around the string.
            let fits: JSONValue = ["v": .string(String(repeating: "x", count: ArtifactLimits.maximumEntryBytes - 8))]
            let over: JSONValue = ["v": .string(String(repeating: "x", count: ArtifactLimits.maximumEntryBytes - 7))]
            let message = try await store.transaction(acknowledging: []) { tx throws -> (String, [BusMessage]) in
                #expect(try tx.appendGlobalArtifact(name: "big", entry: fits, runID: "r", stepID: "s") == 1)
                do {
                    _ = try tx.appendGlobalArtifact(name: "big", entry: over, runID: "r", stepID: "s")
                    return ("", [])
                } catch let error as RelayError {
                    return (error.message, [])
                }
            }
            #expect(message.contains("64 KiB"), "\(message)")
            #expect(message.contains("global artifact \"big\""), "\(message)")
            #expect(try await store.globalArtifact(name: "big")?.count == 1)

            // A list one short of the most entries (written directly: appending 99,999 one by one is slow).
            try await database.writeTransaction { db in
                try db.execute(
                    """
                    WITH RECURSIVE n(i) AS (
                        SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(ArtifactLimits.maximumEntries - 1))
                    INSERT INTO global_artifacts (name, position, entry, run_id, step_id, created_at)
                    SELECT 'full', i, '{}', 'r', 's', 1000 FROM n
                    """)
            }
            let last = try await store.transaction(acknowledging: []) { tx throws -> (Int, [BusMessage]) in
                (try tx.appendGlobalArtifact(name: "full", entry: [:], runID: "r", stepID: "s"), [])
            }
            #expect(last == 100_000)
            let error = await #expect(throws: RelayError.self) {
                try await store.transaction(acknowledging: []) { tx throws -> (Int, [BusMessage]) in
                    (try tx.appendGlobalArtifact(name: "full", entry: [:], runID: "r", stepID: "s"), [])
                }
            }
            #expect(
                error?.message.contains("the most a global artifact may hold (100000)") == true,
                "\(String(describing: error))")
            #expect(try await store.globalArtifact(name: "full")?.count == 100_000)
        }
    }
}
