import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// The items of `for_each` steps in the SQLite run store: recorded pending, started in order, retried, finished,
/// read back by `relay runs show`; and a database file written before items existed.
@Suite struct SQLRunStoreItemTests {
    static let event = TriggerEvent(id: "e-1", instance: "i", output: [:])

    static func jobID(_ index: Int, _ attempt: Int) -> String {
        JobRoute.jobID(runID: "run-1", stepID: "each", item: index, attempt: attempt)
    }

    /// `itemsToStart` of step `each` under `concurrency`, as text.
    static func slots(_ tx: any RunStoreTransaction, _ concurrency: Int) throws -> String {
        let slots = try tx.itemsToStart(runID: "run-1", stepID: "each", concurrency: concurrency)
        return "next \(slots.next.map(\.index))\(slots.morePending ? ", more pending" : "")"
            + (slots.anyRunning ? ", some running" : "")
    }

    @Test(arguments: StoreKind.all) func itemsArePendingUntilStartedAndTheLatestAttemptOfEachIsRead(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let database = fixture.database
            let store = fixture.store
            _ = try await store.transaction(acknowledging: []) { tx throws -> (Void, [BusMessage]) in
                #expect(try tx.createRun(id: "run-1", workflow: "w", event: Self.event))
                try tx.addStep(
                    StepAttemptRecord(
                        jobID: "run-1/each/1", runID: "run-1", stepID: "each", attempt: 1, status: .running))
                try tx.addItems(runID: "run-1", stepID: "each", items: ["a", "b", "c"])
                // Recording them again (a decision repeated) changes nothing.
                try tx.addItems(runID: "run-1", stepID: "each", items: ["x"])
                #expect(try Self.slots(tx, 9) == "next [0, 1, 2]")
                #expect(try Self.slots(tx, 2) == "next [0, 1], more pending")
                let first = try tx.itemsToStart(runID: "run-1", stepID: "each", concurrency: 2).next
                #expect(first.map(\.index) == [0, 1])
                #expect(first.map(\.item) == ["a", "b"])
                #expect(first.map(\.jobID) == [Self.jobID(0, 1), Self.jobID(1, 1)])
                for item in first { try tx.startItem(jobID: item.jobID, input: ["v": item.item]) }
                #expect(try Self.slots(tx, 9) == "next [2], some running")
                #expect(try Self.slots(tx, 2) == "next [], more pending, some running", "no slot free")
                #expect(
                    try Self.slots(tx, 1) == "next [], more pending, some running",
                    "fewer slots than run (a lowered concurrency)")
                // Item 0 succeeds; item 1 fails and is tried again.
                // A worker's result: recorded only for a running attempt, which it returns as recorded.
                #expect(
                    try tx.finishRunningItem(
                        jobID: Self.jobID(2, 1), result: .success([:]), startedAt: nil, finishedAt: nil) == nil,
                    "item 2 is pending")
                let recorded = try tx.finishRunningItem(
                    jobID: Self.jobID(0, 1), result: .success(["n": 0]), startedAt: 1_000, finishedAt: nil)
                #expect(recorded?.status == .succeeded)
                #expect(recorded?.item == "a")
                #expect(recorded?.output == ["n": 0])
                #expect(
                    try tx.finishRunningItem(
                        jobID: Self.jobID(0, 1), result: .failure("again"), startedAt: nil, finishedAt: nil) == nil,
                    "recorded already")
                try tx.finishItem(jobID: Self.jobID(1, 1), result: .failure("boom"), startedAt: nil)
                // A result already recorded is not recorded again.
                try tx.finishItem(jobID: Self.jobID(0, 1), result: .failure("late"), startedAt: nil)
                #expect(try tx.item(jobID: Self.jobID(0, 1))?.status == .succeeded)
                #expect(try tx.item(jobID: Self.jobID(1, 1))?.error == "boom")
                try tx.addItemAttempt(
                    ItemAttemptRecord(
                        jobID: Self.jobID(1, 2), runID: "run-1", stepID: "each", index: 1, attempt: 2,
                        status: .running, item: "b", input: ["v": "b"]))
                #expect(try Self.slots(tx, 2) == "next [2], some running")
                #expect(try Self.slots(tx, 1) == "next [], more pending, some running", "the retry holds its slot")
                try tx.finishItem(jobID: Self.jobID(1, 2), result: .success(["n": 1]), startedAt: nil)
                #expect(try Self.slots(tx, 2) == "next [2]")
                try tx.startItem(jobID: Self.jobID(2, 1), input: ["v": "c"])
                try tx.finishItem(jobID: Self.jobID(2, 1), result: .success(["n": 2]), startedAt: nil)
                #expect(try Self.slots(tx, 2) == "next []", "every item has ended")
                let latest = try tx.latestItems(runID: "run-1", stepID: "each")
                #expect(latest.map(\.index) == [0, 1, 2])
                #expect(latest.map(\.attempt) == [1, 2, 1])
                #expect(latest.map(\.status) == [.succeeded, .succeeded, .succeeded])
                #expect(latest.map(\.output) == [["n": 0], ["n": 1], ["n": 2]])
                #expect(try tx.item(jobID: "run-1/each[9]/1") == nil)
                return ((), [])
            }
            let run = try #require(try await SQLRunStore(readingFrom: database).run(id: "run-1"))
            #expect(run.items.map(\.index) == [0, 1, 1, 2], "every attempt")
            let items = try #require(run.items(of: "each"))
            #expect(items.done == 3)
            #expect(items.total == 3)
            let step = try #require(run.json["steps"]?.arrayValue?.first)
            #expect(step["items_done"] == 3)
            #expect(step["items_total"] == 3)
            #expect(step["items"]?.arrayValue?.map { $0["status"] } == ["succeeded", "succeeded", "succeeded"])
            #expect(step["items"]?.arrayValue?[1]["attempt"] == 2)
            #expect(step["items"]?.arrayValue?[0]["output"] == ["n": 0])
        }
    }

    /// The dispatcher starts a step's first items as it adds them: their rows are written running, with their
    /// inputs and the deadlines given for them, the rest pending.
    @Test(arguments: StoreKind.all) func itemsAddedStartedRunWithTheirInputsAndDeadlines(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let store = fixture.store
            let seen = try await store.transaction(acknowledging: []) { tx throws -> ([String], [BusMessage]) in
                #expect(try tx.createRun(id: "run-1", workflow: "w", event: Self.event))
                for index in 0..<2 {
                    try tx.addDeadline(
                        JobDeadline(
                            jobID: Self.jobID(index, 1), runID: "run-1", workflow: "w", seconds: 10, error: "late"),
                        startingAt: 100)
                }
                let written = try tx.addItems(
                    runID: "run-1", stepID: "each", items: ["a", "b", "c"], started: [["v": "a"], ["v": "b"]])
                #expect(written == [0, 1])
                // Added again (no caller does): nothing is written, no job may go out, no deadline is left behind.
                try tx.addDeadline(
                    JobDeadline(jobID: Self.jobID(0, 1), runID: "run-1", workflow: "w", seconds: 10, error: "again"),
                    startingAt: 500)
                #expect(try tx.addItems(runID: "run-1", stepID: "each", items: ["x"], started: [["v": "x"]]).isEmpty)
                #expect(try SQLRunStoreTests.count(tx, "SELECT COUNT(*) FROM job_deadlines") == 0)
                let rows = try (tx as! SQLRunStoreTransaction).db.query(
                    "SELECT item_index, status, input, deadline_due FROM step_items ORDER BY item_index")
                #expect(try Self.slots(tx, 3) == "next [2], some running")
                #expect(
                    try tx.takeOverdueJobs(now: 110, limit: 10).map(\.jobID) == [Self.jobID(0, 1), Self.jobID(1, 1)])
                let described = rows.map { row in
                    let due = SQLRunStore.double(row[3]).map { "\($0)" } ?? "-"
                    return "\(row[0].int ?? -1) \(row[1].text ?? "") \(row[2].text ?? "-") \(due)"
                }
                return (described, [])
            }
            #expect(seen == [#"0 running {"v":"a"} 110.0"#, #"1 running {"v":"b"} 110.0"#, "2 pending - -"])
        }
    }

    @Test func aDatabaseWrittenBeforeItemsExistedIsReadAndGainsTheirTable() async throws {
        try await SQLRunStoreTests.withDatabase { database in
            _ = try SQLRunStore(bus: try EmbeddedBus(database: database))
            _ = try await SQLRunStore(readingFrom: database).run(id: "none")
            try database.syncExecute("DROP TABLE step_items")
            let older = try SQLRunStore(bus: try EmbeddedBus(database: database))
            _ = try await older.transaction(acknowledging: []) { tx throws -> (Void, [BusMessage]) in
                #expect(try tx.createRun(id: "run-1", workflow: "w", event: Self.event))
                return ((), [])
            }
            try database.syncExecute("DROP TABLE step_items")
            // Read as it is (relay runs creates nothing): the run, without items.
            let run = try #require(try await SQLRunStore(readingFrom: database).run(id: "run-1"))
            #expect(run.items.isEmpty)
            // Opened for writing, the store adds the table and keeps what was there.
            let store = try SQLRunStore(bus: try EmbeddedBus(database: database))
            _ = try await store.transaction(acknowledging: []) { tx throws -> (Void, [BusMessage]) in
                try tx.addItems(runID: "run-1", stepID: "each", items: [1])
                #expect(try Self.slots(tx, 1) == "next [0]")
                return ((), [])
            }
            #expect(try await store.run(id: "run-1")?.items.count == 1)
        }
    }
}
