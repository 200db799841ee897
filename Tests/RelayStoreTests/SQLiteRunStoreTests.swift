import Foundation
import RelayCore
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayStore

/// The SQLite run store, both ways of committing: with the embedded bus (one transaction) and through an outbox.
@Suite struct SQLRunStoreTests {
    /// A fresh database file, removed afterwards.
    static func withDatabase(_ body: (SQLiteDatabase) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-store-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path))
    }

    static let event = TriggerEvent(id: "e-1", instance: "i", output: ["n": 1])

    /// Records a run with one finished step and one running one.
    static func decide(_ tx: any RunStoreTransaction) throws -> Bool {
        guard try tx.recordEvent(event) else { return false }
        #expect(try tx.createRun(id: "run-1", workflow: "w", event: event))
        try tx.addStep(StepAttemptRecord(jobID: "run-1/a/1", runID: "run-1", stepID: "a", attempt: 1, status: .running))
        try tx.finishStep(jobID: "run-1/a/1", result: .success(["x": 1]), startedAt: 1_000)
        try tx.addStep(
            StepAttemptRecord(
                jobID: "run-1/b/0", runID: "run-1", stepID: "b", attempt: 0, status: .skipped, error: "condition"))
        return true
    }

    @Test(arguments: StoreKind.all) func aPluginsLogIsKeptWithItsAttemptAndALongOneByItsEnd(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let store = fixture.store
            let long = String(repeating: "é", count: 40_000) + "the end" // 80,007 bytes
            try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                _ = try tx.recordEvent(Self.event)
                _ = try tx.createRun(id: "run-1", workflow: "w", event: Self.event)
                for (step, log) in [("a", "line 1\nline 2\n"), ("b", ""), ("c", long)] {
                    try tx.addStep(
                        StepAttemptRecord(
                            jobID: "run-1/\(step)/1", runID: "run-1", stepID: step, attempt: 1, status: .running))
                    try tx.finishStep(jobID: "run-1/\(step)/1", result: .success([:], log: log), startedAt: 1_000)
                }
                return ((), [])
            }
            let steps = try #require(try await store.run(id: "run-1")).steps
            #expect(steps.map(\.log?.count) == [14, nil, StepLog.kept(long)?.count])
            #expect(steps[0].json["log"] == "line 1\nline 2\n")
            #expect(steps[1].json["log"] == .null)
            let kept = try #require(steps[2].log)
            #expect(kept.hasSuffix("the end") && kept.utf8.count <= StepLog.limit + 100)
            #expect(kept.hasPrefix("[the first 14472 bytes of this log are not kept]\n"), "\(kept.prefix(80))")
            // Cut at a character boundary (65,529 bytes of "é" would split one): whole characters are kept.
            let body = try #require(kept.split(separator: "\n", maxSplits: 1).last)
            #expect(body == String(repeating: "é", count: 32_764) + "the end")
        }
    }

    @Test func withTheEmbeddedBusADecisionItsMessagesAndItsAcknowledgementCommitTogether() async throws {
        try await Self.withDatabase { database in
            let bus = try EmbeddedBus(database: database)
            let store = try SQLRunStore(bus: bus)
            try await bus.publish([BusMessage(topic: "in", key: "k", value: [1])])
            let input = try await bus.subscribe(topic: "in", group: "g")
            let delivery = try #require(try await input.next())
            let first = try await store.transaction(acknowledging: [delivery]) { tx in
                (try Self.decide(tx), [BusMessage(topic: "out", key: "k", value: [2])])
            }
            #expect(first)
            #expect(try await bus.fetch(topic: "out", after: 0, limit: 10).count == 1)
            // The input is acknowledged: a new member of the group starts after it.
            let again = try await bus.subscribe(topic: "in", group: "g")
            try await bus.publish([BusMessage(topic: "in", key: "k", value: [3])])
            #expect(try await again.next()?.message.value == [3])
            // A repeated event is recognised; a body that throws leaves nothing behind.
            let second = try await store.transaction(acknowledging: []) { tx in (try Self.decide(tx), []) }
            #expect(!second)
            await #expect(throws: RelayError.self) {
                try await store.transaction(acknowledging: []) { tx -> (Int, [BusMessage]) in
                    _ = try tx.createRun(id: "run-2", workflow: "w", event: Self.event)
                    throw RelayError(.invalidValue, "no")
                }
            }
            #expect(try await bus.fetch(topic: "out", after: 0, limit: 10).count == 1)
            #expect(try await store.run(id: "run-2") == nil)
        }
    }

    @Test(arguments: StoreKind.all) func theReadsGiveRunsStepsAndCounts(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let database = fixture.database
            let store = fixture.store
            _ = try await store.transaction(acknowledging: []) { tx in
                _ = try Self.decide(tx)
                try tx.finishRun(id: "run-1", status: .succeeded, error: nil)
                // A finished run is not finished again.
                try tx.finishRun(id: "run-1", status: .failed, error: "late")
                let scope = try tx.scope(runID: "run-1")
                #expect(scope.trigger == ["n": 1])
                #expect(scope.steps["a"]?["status"] == "succeeded")
                #expect(scope.steps["b"]?["status"] == "skipped")
                return ((), [])
            }
            let reader = SQLRunStore(readingFrom: database)
            #expect(try await reader.runCounts() == [.succeeded: 1])
            let runs = try await reader.runs(limit: 10)
            #expect(runs.map(\.id) == ["run-1"])
            #expect(runs.first?.status == .succeeded)
            #expect(runs.first?.error == nil)
            let run = try #require(try await reader.run(id: "run-1"))
            #expect(run.triggerEvent == ["n": 1])
            #expect(run.steps.map(\.status) == [.succeeded, .skipped])
            #expect(run.steps.first?.output == ["x": 1])
            #expect(run.json["steps"]?.arrayValue?.first?["status"] == "succeeded")
            #expect(run.line.hasPrefix("run run-1 w succeeded in "))
            #expect(run.line.hasSuffix("(2 steps: 1 skipped, 1 succeeded)"))
            // A reader commits nothing.
            await #expect(throws: RelayError.self) {
                try await reader.transaction(acknowledging: []) { _ in ((), []) }
            }
        }
    }

    @Test(arguments: StoreKind.all) func theLatestAttemptOfEachStepAndTheRunStatusAreReadInTheTransaction(
        on kind: StoreKind
    ) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            _ = try await store.transaction(acknowledging: []) { tx in
                #expect(try tx.runStatus(id: "run-1") == nil)
                _ = try Self.decide(tx)
                #expect(try tx.runStatus(id: "run-1") == .running)
                // A second attempt of a: it is the latest, whatever the first one's outcome.
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/a/2", runID: "run-1", stepID: "a", attempt: 2, status: .running))
                // Adding an attempt that exists changes nothing (what keeps a step from starting twice).
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/a/2", runID: "run-1", stepID: "a", attempt: 2, status: .failed))
                let latest = try tx.latestSteps(runID: "run-1")
                #expect(latest.keys.sorted() == ["a", "b"])
                #expect(latest["a"]?.attempt == 2)
                #expect(latest["a"]?.status == .running)
                #expect(latest["b"]?.status == .skipped)
                #expect(latest["b"]?.error == "condition")
                #expect(try tx.latestSteps(runID: "run-2").isEmpty)
                try tx.finishRun(id: "run-1", status: .failed, error: "step a failed")
                #expect(try tx.runStatus(id: "run-1") == .failed)
                return ((), [])
            }
        }
    }

    /// A run's attempts are read once per transaction and kept (`RunStepRows`): what the transaction then reads
    /// of them must follow its own writes exactly, as a fresh read would.
    @Test(arguments: StoreKind.all) func aRunsAttemptsReadInATransactionFollowItsWrites(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let store = fixture.store
            typealias Seen = [String]
            /// Everything a decision reads of run-1's attempts, as text to compare.
            @Sendable func seen(_ tx: any RunStoreTransaction) throws -> Seen {
                let latest = try tx.latestSteps(runID: "run-1").sorted { $0.key < $1.key }.map {
                    "\($0.key): \($0.value.jobID) \($0.value.attempt) \($0.value.status) \($0.value.error ?? "-")"
                }
                let scope = try tx.scope(runID: "run-1")
                // (Key by key: the order of steps whose attempts tie is the database's.)
                let steps = scope.steps.sorted { $0.key < $1.key }.map {
                    "\($0.key)=\(JSONWriter.compact.string($0.value))"
                }
                let jobs = try ["run-1/a/1", "run-1/a/2", "run-1/c/1", "run-1/x/1"].map {
                    try tx.step(jobID: $0, runID: "run-1").map { "\($0.jobID) \($0.status)" } ?? "none"
                }
                return latest + steps + [JSONWriter.compact.string(scope.trigger)] + jobs
            }
            let inside = try await store.transaction(acknowledging: []) { tx -> ([Seen], [BusMessage]) in
                _ = try SQLRunStoreTests.decide(tx)
                var views = [try seen(tx)]
                // A retry of a, added after the rows were read; c's first attempt after it.
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/a/2", runID: "run-1", stepID: "a", attempt: 2, status: .running))
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/c/1", runID: "run-1", stepID: "c", attempt: 1, status: .running))
                // Added again: nothing changes.
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/c/1", runID: "run-1", stepID: "c", attempt: 1, status: .failed))
                views.append(try seen(tx))
                try tx.finishStep(jobID: "run-1/c/1", result: .success(["y": [1, "two"]]), startedAt: nil)
                try tx.finishStep(jobID: "run-1/a/2", result: .failure("boom"), startedAt: nil)
                views.append(try seen(tx))
                try tx.reopenStep(jobID: "run-1/c/1")
                views.append(try seen(tx))
                return (views, [])
            }
            let after = try await store.transaction(acknowledging: []) { tx in (try seen(tx), []) }
            #expect(inside.last == after)
            #expect(inside[0] != inside[1] && inside[1] != inside[2] && inside[2] != inside[3])
            #expect(after.contains("run-1/c/1 running") && after.contains("a: run-1/a/2 2 failed boom"))
            #expect(
                inside[2].contains(#"c={"status":"succeeded","success":true,"output":{"y":[1,"two"]},"error":null}"#))
        }
    }

    /// A run read in a transaction is kept for it (`RunRecords`): what it then reads follows its own writes.
    @Test(arguments: StoreKind.all) func aRunReadInATransactionFollowsItsWrites(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let statuses = try await fixture.store.transaction(acknowledging: []) { tx -> ([String], [BusMessage]) in
                var seen = [try tx.runRecord(id: "run-1").map { $0.status.rawValue } ?? "none"]
                _ = try tx.recordEvent(Self.event)
                #expect(try tx.createRun(id: "run-1", workflow: "w", event: Self.event))
                seen.append(try tx.runRecord(id: "run-1").map { $0.status.rawValue } ?? "none")
                try tx.finishRun(id: "run-1", status: .failed, error: "boom", output: nil)
                seen.append(try tx.runRecord(id: "run-1").map { $0.status.rawValue } ?? "none")
                #expect(try tx.reopenRun(id: "run-1"))
                seen.append(try tx.runRecord(id: "run-1").map { $0.status.rawValue } ?? "none")
                return (seen, [])
            }
            #expect(statuses == ["none", "running", "failed", "running"])
        }
    }

    @Test func aRunShownWithItsGraphGivesEachStepsNeeds() throws {
        var run = RunDetail(
            summary: RunSummary(id: "r", workflow: "w", status: .failed, startedAt: 0), triggerEvent: [:],
            steps: [StepAttempt(stepID: "a", attempt: 1, status: .succeeded, scheduledAt: 0)])
        #expect(run.json["graph"] == nil, "without the workflow's definition, no graph")
        #expect(run.json["steps"]?.arrayValue?.first?["needs"] == nil)
        run.graph = [.init(step: "a", needs: []), .init(step: "b", needs: ["a"])]
        #expect(run.json["steps"]?.arrayValue?.first?["needs"] == [])
        #expect(run.json["steps"]?.arrayValue?.first?["status"] == "succeeded", "the attempt's fields are kept")
        #expect(run.json["graph"] == [["step": "a", "needs": []], ["step": "b", "needs": ["a"]]])
    }

    @Test(arguments: StoreKind.all) func dueJobsAreTakenOnceInDueOrder(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            let due = try await store.transaction(acknowledging: []) { tx -> ([String], [BusMessage]) in
                try tx.schedule(BusMessage(topic: "t", key: "late", value: []), jobID: "j2", dueAt: 20)
                try tx.schedule(BusMessage(topic: "t", key: "early", value: []), jobID: "j1", dueAt: 10)
                try tx.schedule(BusMessage(topic: "t", key: "future", value: []), jobID: "j3", dueAt: 99)
                let taken = try tx.takeDueJobs(now: 50, limit: 10).map(\.key)
                #expect(try tx.takeDueJobs(now: 50, limit: 10).isEmpty)
                return (taken, [])
            }
            #expect(due == ["early", "late"])
        }
    }

    static func deadline(_ jobID: String, seconds: Double = 10) -> JobDeadline {
        JobDeadline(jobID: jobID, runID: "run-1", workflow: "w", seconds: seconds, error: "no result for \(jobID)")
    }

    @Test(arguments: StoreKind.all) func aDeadlineIsTakenOnceAndAResultInTimeClearsIt(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                #expect(try Self.decide(tx))
                for step in ["c", "d", "e"] {
                    try tx.addStep(
                        StepAttemptRecord(
                            jobID: "run-1/\(step)/1", runID: "run-1", stepID: step, attempt: 1, status: .running))
                }
                try tx.addDeadline(Self.deadline("run-1/c/1", seconds: 20), startingAt: 100)
                try tx.addDeadline(Self.deadline("run-1/d/1", seconds: 10), startingAt: 100)
                try tx.addDeadline(Self.deadline("run-1/e/1", seconds: 10), startingAt: 100)
                // Added again (a redelivered decision): the first deadline stands.
                try tx.addDeadline(Self.deadline("run-1/d/1", seconds: 99), startingAt: 500)
                try tx.finishStep(jobID: "run-1/e/1", result: .success([:]), startedAt: nil)
                #expect(try tx.takeOverdueJobs(now: 109, limit: 10).isEmpty)
                #expect(
                    try tx.takeOverdueJobs(now: 200, limit: 10) == [
                        Self.deadline("run-1/d/1"), Self.deadline("run-1/c/1", seconds: 20),
                    ])
                #expect(try tx.takeOverdueJobs(now: 300, limit: 10).isEmpty, "each deadline is handled once")
                // The dispatcher records the failure; a result that comes afterwards is recorded once, beside it.
                try tx.finishStep(jobID: "run-1/d/1", result: .failure("no result for run-1/d/1"), startedAt: nil)
                #expect(try tx.recordLateResult(jobID: "run-1/d/1", result: .success([:])))
                #expect(try !tx.recordLateResult(jobID: "run-1/d/1", result: .success([:])), "a redelivery")
                #expect(try !tx.recordLateResult(jobID: "run-1/e/1", result: .success([:])), "it came in time")
                #expect(try tx.step(jobID: "run-1/d/1")?.status == .failed)
                return ((), [])
            }
        }
    }

    /// The first column of the first row `sql` reads in `tx` (a count), -1 for none.
    static func count(_ tx: any RunStoreTransaction, _ sql: String) throws -> Int {
        Int(try (tx as! SQLRunStoreTransaction).db.query(sql).first?.first?.int ?? -1)
    }

    /// A deadline given just before its attempt is added (as the dispatcher does for every job) is kept in the
    /// attempt's row: no `job_deadlines` row until it fails the attempt, when one is written, expired, so that a
    /// late result is recorded beside it. A result in time clears it; a starting dispatcher restarts it.
    @Test(arguments: StoreKind.all) func aStepsDeadlineIsKeptInItsAttemptsRow(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            let seen = try await store.transaction(acknowledging: []) { tx -> ([Int], [BusMessage]) in
                #expect(try Self.decide(tx))
                for step in ["c", "d"] {
                    try tx.addDeadline(Self.deadline("run-1/\(step)/1", seconds: 10), startingAt: 100)
                    try tx.addStep(
                        StepAttemptRecord(
                            jobID: "run-1/\(step)/1", runID: "run-1", stepID: step, attempt: 1, status: .running))
                }
                var seen = [
                    try Self.count(tx, "SELECT COUNT(*) FROM job_deadlines"),
                    try Self.count(tx, "SELECT COUNT(*) FROM steps WHERE deadline_due IS NOT NULL"),
                ]
                try tx.finishStep(jobID: "run-1/c/1", result: .success([:]), startedAt: nil)
                seen.append(try Self.count(tx, "SELECT COUNT(*) FROM steps WHERE deadline_due IS NOT NULL"))
                try tx.restartDeadlines(now: 500)
                #expect(try tx.takeOverdueJobs(now: 509, limit: 10).isEmpty, "restarted: due at 510")
                #expect(try tx.takeOverdueJobs(now: 510, limit: 10) == [Self.deadline("run-1/d/1", seconds: 10)])
                #expect(try tx.takeOverdueJobs(now: 600, limit: 10).isEmpty, "each deadline is handled once")
                seen.append(try Self.count(tx, "SELECT COUNT(*) FROM job_deadlines WHERE expired_at IS NOT NULL"))
                try tx.finishStep(jobID: "run-1/d/1", result: .failure("no result for run-1/d/1"), startedAt: nil)
                #expect(try tx.recordLateResult(jobID: "run-1/d/1", result: .success([:])))
                #expect(try !tx.recordLateResult(jobID: "run-1/c/1", result: .success([:])), "it came in time")
                return (seen, [])
            }
            // Two deadlines in rows and none in the table; one cleared by its result; the other expired into the
            // table.
            #expect(seen == [0, 2, 1, 1])
        }
    }

    /// A `for_each` item's deadline, given just before the item starts (as the dispatcher does), is kept in the
    /// item's row the same way: cleared by its result, restarted by a starting dispatcher, expired into
    /// `job_deadlines` so that a late result is recorded; a retry's (no start yet) is a row of `job_deadlines`.
    @Test(arguments: StoreKind.all) func anItemsDeadlineIsKeptInItsAttemptsRow(on kind: StoreKind) async throws {
        try await kind.withStore { fixture in
            let store = fixture.store
            let seen = try await store.transaction(acknowledging: []) { tx -> ([Int], [BusMessage]) in
                #expect(try Self.decide(tx))
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/c/1", runID: "run-1", stepID: "c", attempt: 1, status: .running))
                try tx.addItems(runID: "run-1", stepID: "c", items: ["x", "y", "z"])
                for item in try tx.itemsToStart(runID: "run-1", stepID: "c", concurrency: 2).next {
                    try tx.addDeadline(Self.deadline(item.jobID, seconds: 10), startingAt: 100)
                    try tx.startItem(jobID: item.jobID, input: ["n": .string("\(item.index)")])
                }
                let (first, second) = ("run-1/c[0]/1", "run-1/c[1]/1")
                var seen = [
                    try Self.count(tx, "SELECT COUNT(*) FROM job_deadlines"),
                    try Self.count(tx, "SELECT COUNT(*) FROM step_items WHERE deadline_due IS NOT NULL"),
                ]
                #expect(try tx.takeOverdueJobs(now: 109, limit: 10).isEmpty)
                try tx.finishItem(jobID: first, result: .success([:]), startedAt: nil)
                seen.append(try Self.count(tx, "SELECT COUNT(*) FROM step_items WHERE deadline_due IS NOT NULL"))
                try tx.restartDeadlines(now: 500)
                #expect(try tx.takeOverdueJobs(now: 509, limit: 10).isEmpty, "restarted: due at 510")
                #expect(try tx.takeOverdueJobs(now: 510, limit: 10) == [Self.deadline(second, seconds: 10)])
                #expect(try tx.takeOverdueJobs(now: 600, limit: 10).isEmpty, "each deadline is handled once")
                seen.append(try Self.count(tx, "SELECT COUNT(*) FROM job_deadlines WHERE expired_at IS NOT NULL"))
                try tx.finishItem(jobID: second, result: .failure("no result"), startedAt: nil)
                #expect(try tx.recordLateResult(jobID: second, result: .success([:])))
                #expect(try !tx.recordLateResult(jobID: first, result: .success([:])), "it came in time")
                // The second item's retry waits for its backoff: its deadline is a row of its own until then.
                let retry = "run-1/c[1]/2"
                try tx.addItemAttempt(
                    ItemAttemptRecord(
                        jobID: retry, runID: "run-1", stepID: "c", index: 1, attempt: 2, status: .running,
                        item: "y", input: [:]))
                try tx.addDeadline(Self.deadline(retry, seconds: 10), startingAt: nil)
                seen.append(try Self.count(tx, "SELECT COUNT(*) FROM job_deadlines WHERE expired_at IS NULL"))
                try tx.finishItem(jobID: retry, result: .success([:]), startedAt: nil)
                seen.append(try Self.count(tx, "SELECT COUNT(*) FROM job_deadlines WHERE expired_at IS NULL"))
                return (seen, [])
            }
            // Two deadlines in rows and none in the table; one cleared by its result; the other expired into the
            // table; the retry's in the table until its result.
            #expect(seen == [0, 2, 1, 1, 1, 0])
        }
    }

    @Test(arguments: StoreKind.all) func aScheduledJobsDeadlineStartsWhenItIsPublishedAndSurvivesARestart(
        on kind: StoreKind
    ) async throws {
        try await kind.withStore { fixture in
            let first = fixture.store
            try await first.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                try tx.schedule(BusMessage(topic: "t", key: "k", value: []), jobID: "run-1/a/2", dueAt: 50)
                try tx.addDeadline(Self.deadline("run-1/a/2"), startingAt: nil)
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/a/2", runID: "run-1", stepID: "a", attempt: 2, status: .running))
                #expect(try tx.takeOverdueJobs(now: 1_000, limit: 10).isEmpty, "not published yet")
                #expect(try tx.takeDueJobs(now: 60, limit: 10).count == 1)
                return ((), [])
            }
            // Reopened (a restart): the deadline is in the file.
            let second = try fixture.another()
            let overdue = try await second.transaction(acknowledging: []) { tx -> ([String], [BusMessage]) in
                #expect(try tx.takeOverdueJobs(now: 69, limit: 10).isEmpty)
                return (try tx.takeOverdueJobs(now: 70, limit: 10).map(\.jobID), [])
            }
            #expect(overdue == ["run-1/a/2"])
        }
    }

    @Test(arguments: StoreKind.all) func aStartingDispatcherGivesJobsInFlightTheirFullTimeAgain(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let store = fixture.store
            let overdue = try await store.transaction(acknowledging: []) { tx -> ([String], [BusMessage]) in
                try tx.addDeadline(Self.deadline("run-1/a/1"), startingAt: 100)
                try tx.restartDeadlines(now: 500)
                #expect(try tx.takeOverdueJobs(now: 509, limit: 10).isEmpty)
                return (try tx.takeOverdueJobs(now: 510, limit: 10).map(\.jobID), [])
            }
            #expect(overdue == ["run-1/a/1"])
        }
    }

    @Test(arguments: StoreKind.all) func anEndedRunsWaitingRetriesAreDroppedAndRecordedAsNotRun(on kind: StoreKind)
        async throws
    {
        try await kind.withStore { fixture in
            let store = fixture.store
            try await store.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                #expect(try Self.decide(tx))
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/c/2", runID: "run-1", stepID: "c", attempt: 2, status: .running))
                try tx.schedule(BusMessage(topic: "t", key: "run-1", value: []), jobID: "run-1/c/2", dueAt: 50)
                try tx.addDeadline(Self.deadline("run-1/c/2"), startingAt: nil)
                try tx.schedule(BusMessage(topic: "t", key: "other", value: []), jobID: "run-2/c/2", dueAt: 50)
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-2/c/2", runID: "run-2", stepID: "c", attempt: 2, status: .running))
                #expect(try tx.dropScheduledJobs(runID: "run-1", error: "the run had ended") == ["run-1/c/2"])
                #expect(try tx.takeDueJobs(now: 60, limit: 10).map(\.key) == ["other"], "another run's stays")
                #expect(try tx.takeOverdueJobs(now: 1_000, limit: 10).isEmpty)
                return ((), [])
            }
            let attempt = try #require(try await store.run(id: "run-1")?.steps.first { $0.stepID == "c" })
            #expect(attempt.status == .failed)
            #expect(attempt.error == "the run had ended")
        }
    }

    @Test func throughAnOutboxMessagesArePublishedBeforeTheInputIsAcknowledged() async throws {
        try await Self.withDatabase { database in
            let transport = RecordingTransport()
            let store = try SQLRunStore(database: database, publishingTo: transport)
            let delivery = Delivery(message: BusMessage(topic: "in", key: "k", value: []), offset: 7, group: "g")
            _ = try await store.transaction(acknowledging: [delivery]) { _ in
                ((), [BusMessage(topic: "out", key: "k", value: [1], headers: ["h": "v"])])
            }
            #expect(transport.log == ["publish out", "acknowledge 7"])
            #expect(transport.published.first?.headers == ["h": "v"])
            // The broker is down: the decision is kept in the outbox, the input is not acknowledged.
            transport.failing = true
            await #expect(throws: RelayError.self) {
                try await store.transaction(acknowledging: [delivery]) { _ in
                    ((), [BusMessage(topic: "out", key: "k", value: [2])])
                }
            }
            #expect(transport.log == ["publish out", "acknowledge 7"])
            // The next process publishes what was left, once.
            transport.failing = false
            let next = try SQLRunStore(database: database, publishingTo: transport)
            try await next.publishPending()
            try await next.publishPending()
            #expect(transport.published.map(\.value) == [[1], [2]])
        }
    }

    /// Pipelined: the decisions commit at once; what they publish and the acknowledgements follow in commit order,
    /// each batch's acknowledgements after its messages; a broker failure is thrown by a later call, and what was
    /// decided stays in the outbox for the next start.
    @Test func pipelinedTransactionsPublishInCommitOrderAndReportAFailureLater() async throws {
        try await Self.withDatabase { database in
            let transport = RecordingTransport()
            let store = try SQLRunStore(database: database, publishingTo: transport)
            for offset in 1...3 {
                let delivery = Delivery(
                    message: BusMessage(topic: "in", key: "k", value: []), offset: Int64(offset), group: "g")
                _ = try await store.pipelinedTransaction(acknowledging: [delivery]) { _ in
                    ((), [BusMessage(topic: "out\(offset)", key: "k", value: [UInt8(offset)])])
                }
            }
            try await store.flush()
            // Each acknowledgement after the message its decision published (several batches may share a drain).
            let log = transport.log
            for offset in 1...3 {
                let published = try #require(log.firstIndex(of: "publish out\(offset)"))
                let acknowledged = try #require(log.firstIndex(of: "acknowledge \(offset)"))
                #expect(published < acknowledged)
            }
            #expect(log.filter { $0.hasPrefix("publish") } == ["publish out1", "publish out2", "publish out3"])
            transport.failing = true
            let delivery = Delivery(message: BusMessage(topic: "in", key: "k", value: []), offset: 4, group: "g")
            _ = try await store.pipelinedTransaction(acknowledging: [delivery]) { _ in
                ((), [BusMessage(topic: "out4", key: "k", value: [4])])
            }
            await #expect(throws: RelayError.self) { try await store.flush() }
            await #expect(throws: RelayError.self) {
                try await store.pipelinedTransaction(acknowledging: []) { _ in ((), []) }
            }
            #expect(!transport.log.contains("acknowledge 4"))
            transport.failing = false
            try await SQLRunStore(database: database, publishingTo: transport).publishPending()
            #expect(transport.published.map(\.value) == [[1], [2], [3], [4]])
        }
    }

    /// The outbox's rows, as their values.
    static func outbox(_ database: SQLiteDatabase) async throws -> [[UInt8]] {
        try await database.read { db in
            try db.query("SELECT value FROM relay_outbox ORDER BY seq").map { $0[0].blob ?? [] }
        }
    }

    /// What a decision wrote to the outbox is published from memory once committed, in commit order, and deleted
    /// by the next decision's transaction (none of its own); a dispatcher that stops deletes what it published, so
    /// that the next start publishes nothing twice; many decisions at once publish each message once, in order.
    @Test func anOutboxPublishesWhatWasCommittedInOrderAndTheNextDecisionDeletesIt() async throws {
        try await Self.withDatabase { database in
            let transport = RecordingTransport()
            let store = try SQLRunStore(database: database, publishingTo: transport)
            func decide(_ value: UInt8) async throws {
                _ = try await store.pipelinedTransaction(acknowledging: []) { _ in
                    ((), [BusMessage(topic: "out", key: "k", value: [value])])
                }
            }
            try await decide(1)
            try await store.flush()
            #expect(try await Self.outbox(database) == [])
            try await decide(2)
            // Published, and there until a decision deletes it.
            #expect(await waitFor { transport.published.count == 2 })
            #expect(transport.published.map(\.value) == [[1], [2]])
            #expect(try await Self.outbox(database) == [[2]])
            // (Deleted by a decision that comes once the publish is done with.)
            #expect(
                try await waitFor {
                    try await store.pipelinedTransaction(acknowledging: []) { _ in ((), []) }
                    return try await Self.outbox(database) == []
                })
            try await decide(3)
            try await store.flush()
            #expect(try await Self.outbox(database) == [])
            // Many at once: each once, in the order committed (each decision's value is taken as it is decided, one
            // after the other on the connection).
            let next = Counter(4)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 4...60 {
                    group.addTask {
                        _ = try await store.pipelinedTransaction(acknowledging: []) { _ in
                            let value = next.take()
                            return ((), [BusMessage(topic: "out", key: "k", value: [value])])
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await store.flush()
            #expect(transport.published.map(\.value) == (1...60).map { [UInt8($0)] })
            #expect(try await Self.outbox(database) == [])
            // A start after a clean stop publishes nothing.
            try await SQLRunStore(database: database, publishingTo: transport).publishPending()
            #expect(transport.published.count == 60)
        }
    }

    /// Another process writing the same outbox (`relay dlq redrive` beside a running dispatcher): the dispatcher's
    /// decisions delete only the rows it published, a row the other process could not publish is published by the
    /// dispatcher's sweep, neither republishes the other's published rows, and a failed publish is made good by the
    /// next one.
    @Test func anOutboxSharedWithAnotherProcessLosesNothingAndRepeatsNothing() async throws {
        try await Self.withDatabase { database in
            let transport = RecordingTransport()
            let dispatcher = try SQLRunStore(database: database, publishingTo: transport)
            func decide(_ store: SQLRunStore, _ value: UInt8) async throws {
                _ = try await store.transaction(acknowledging: []) { _ in
                    ((), [BusMessage(topic: "out", key: "k", value: [value])])
                }
            }
            try await dispatcher.publishPending()
            try await decide(dispatcher, 1)
            // The command's broker is down: its decision stays in the outbox.
            let down = RecordingTransport()
            down.failing = true
            let command = try SQLRunStore(database: SQLiteDatabase(path: database.path), publishingTo: down)
            await #expect(throws: RelayError.self) { try await decide(command, 100) }
            try await dispatcher.pipelinedTransaction(acknowledging: []) { _ in
                ((), [BusMessage(topic: "out", key: "k", value: [2])])
            }
            try await dispatcher.pipelinedTransaction(acknowledging: []) { _ in ((), []) }
            try await dispatcher.flush()
            #expect(try await Self.outbox(database) == [[100]])
            // The dispatcher's sweep leaves it to the command for a sweep's time (it might be publishing it), then
            // publishes it.
            try await dispatcher.publishPending()
            #expect(try await Self.outbox(database) == [[100]])
            try await dispatcher.publishPending()
            #expect(transport.published.map(\.value) == [[1], [2], [100]])
            #expect(try await Self.outbox(database) == [])
            // A command that can publish publishes its own message only, and leaves no row behind.
            let up = RecordingTransport()
            try await dispatcher.pipelinedTransaction(acknowledging: []) { _ in
                ((), [BusMessage(topic: "out", key: "k", value: [3])])
            }
            try await dispatcher.publishPending()
            try await decide(try SQLRunStore(database: SQLiteDatabase(path: database.path), publishingTo: up), 101)
            #expect(up.published.map(\.value) == [[101]])
            // The dispatcher's broker fails once; its next publish makes it good, each message once.
            transport.failing = true
            try await dispatcher.pipelinedTransaction(acknowledging: []) { _ in
                ((), [BusMessage(topic: "out", key: "k", value: [4])])
            }
            await #expect(throws: RelayError.self) { try await dispatcher.flush() }
            transport.failing = false
            let next = try SQLRunStore(database: database, publishingTo: transport)
            try await next.publishPending()
            try await decide(next, 5)
            try await next.flush()
            #expect(transport.published.map(\.value) == [[1], [2], [100], [3], [4], [5]])
            #expect(try await Self.outbox(database) == [])
        }
    }

    @Test func triggerStateIsKeptPerInstance() async throws {
        try await Self.withDatabase { database in
            let states = try SQLTriggerStateStore(database: database)
            #expect(try await states.state(of: "a") == nil)
            try await states.save(["cursor": 1], of: "a")
            try await states.save(["cursor": 2], of: "a")
            try await states.save(["cursor": 9], of: "b")
            #expect(try await states.state(of: "a") == ["cursor": 2])
            try await database.transaction { db in
                try db.query("UPDATE trigger_state SET state = '{' WHERE instance = 'b'")
            }
            let error = await #expect(throws: RelayError.self) { try await states.state(of: "b") }
            #expect(error?.message.contains("the saved state of trigger b is not JSON") == true)
        }
    }
}

/// A transport that records what is published and acknowledged, and can be made to fail.
/// Numbers handed out one after the other, from any task.
final class Counter: Sendable {
    private let next: Mutex<UInt8>
    init(_ first: UInt8) { next = Mutex(first) }

    func take() -> UInt8 {
        next.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}

final class RecordingTransport: Transport {
    private let state = Mutex<(log: [String], published: [BusMessage], failing: Bool)>(([], [], false))

    var log: [String] { state.withLock { $0.log } }
    var published: [BusMessage] { state.withLock { $0.published } }
    var failing: Bool {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }

    func publish(_ messages: [BusMessage]) async throws {
        try publish(messages, [])
    }

    func publish(_ messages: [BusMessage], acknowledging deliveries: [Delivery]) async throws {
        try publish(messages, deliveries)
    }

    private func publish(_ messages: [BusMessage], _ deliveries: [Delivery]) throws {
        try state.withLock { state in
            if state.failing { throw RelayError(.transport, "the broker is down") }
            state.published += messages
            state.log += messages.map { "publish \($0.topic)" } + deliveries.map { "acknowledge \($0.offset)" }
        }
    }

    func subscribe(topic: String, group: String) async throws -> any BusSubscription {
        throw RelayError(.transport, "not here")
    }
}

/// A reader of a file written by an earlier version (before versions, sub-workflows and deadlines were kept)
/// reads it without altering it.
@Suite struct SQLRunStoreOldFileTests {
    /// A file as the first release wrote it: runs and steps, one run.
    static func writeFirstRelease(_ database: SQLiteDatabase) async throws {
        try await database.transaction { db in
            try db.execute(
                """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, event_id TEXT NOT NULL,
                    trigger_event TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, error TEXT);
                CREATE TABLE steps (
                    job_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
                    status TEXT NOT NULL, input TEXT, output TEXT, error TEXT, exception TEXT,
                    scheduled_at REAL NOT NULL, started_at REAL, finished_at REAL);
                INSERT INTO runs VALUES ('run-old', 'w', 'succeeded', 'e', '{"n":1}', 1000, 1001, NULL);
                INSERT INTO steps VALUES ('run-old/a/1', 'run-old', 'a', 1, 'succeeded', '{}', '{"x":1}', NULL,
                    NULL, 1000, 1000, 1001);
                """)
        }
    }

    @Test func aFileWithoutTheNewColumnsAndTablesIsReadAsItIs() async throws {
        try await SQLRunStoreTests.withDatabase { database in
            try await Self.writeFirstRelease(database)
            let reader = SQLRunStore(readingFrom: database)
            let runs = try await reader.runs(limit: 10)
            #expect(runs.map(\.id) == ["run-old"])
            #expect(runs.first?.version == nil && runs.first?.parentRunID == nil)
            let run = try #require(try await reader.run(id: "run-old"))
            #expect(run.steps.map(\.output) == [["x": 1]])
            #expect(run.children.isEmpty && run.output == nil && run.items.isEmpty)
            let columns = try await database.read { db in
                try db.query("PRAGMA table_info(runs)").compactMap { $0[1].text }
            }
            #expect(!columns.contains("workflow_hash"), "a reader never alters the file")
            #expect(run.artifacts.isEmpty)
            #expect(try await reader.artifacts(runID: "run-old").isEmpty)
            #expect(try await reader.globalArtifacts().isEmpty)
            #expect(try await reader.globalArtifact(name: "any") == nil)
        }
    }

    @Test func anOldFileOpenedForWritingGainsTheArtifactTables() async throws {
        try await SQLRunStoreTests.withDatabase { database in
            try await Self.writeFirstRelease(database)
            let store = try SQLRunStore(bus: try EmbeddedBus(database: database))
            _ = try await store.transaction(acknowledging: []) { tx throws -> (Void, [BusMessage]) in
                try tx.addArtifact(
                    RunArtifact(
                        runID: "run-old", stepID: "a", jobID: "run-old/a/1", name: "note", format: .text,
                        content: "kept", createdAt: 1_002))
                #expect(try tx.appendGlobalArtifact(name: "list", entry: ["k": 1], runID: "run-old", stepID: "a") == 1)
                return ((), [])
            }
            let run = try #require(try await store.run(id: "run-old"))
            #expect(run.steps.map(\.output) == [["x": 1]], "what was there is kept")
            #expect(run.artifacts.map(\.content) == ["kept"])
            #expect(try await store.globalArtifact(name: "list") == [["k": 1]])
        }
    }
}
