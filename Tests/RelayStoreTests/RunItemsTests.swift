import Foundation
import RelayCore
import RelayTransport
import Testing

@testable import RelayStore

/// The `for_each` items a SQLite connection keeps for its runs in flight (`RunItems`, `RunItemRows`): a store that
/// answers item calls from what it keeps, a speculation that answers them outside the database and is applied, and
/// the statements alone (as on PostgreSQL) answer every call alike and leave the same rows, over any sequence of
/// item writes.
@Suite struct RunItemsTests {
    /// A small deterministic generator (the sequences must be the same for the three ways).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11 ^ state
        }
    }

    /// One item call, with its arguments.
    enum Call {
        case add(step: String, count: Int, started: Int, deadlines: Bool)
        case start(step: String, index: Int, deadline: Bool)
        case finishRunning(step: String, index: Int, attempt: Int, ok: Bool)
        case finish(step: String, index: Int, attempt: Int)
        case retry(step: String, index: Int, attempt: Int, staged: Bool)
        case skip(step: String)
        case abandon
    }

    /// The steps transaction `number` of a plan works on: two at a time, a new one every ten transactions (a step's
    /// items are added once: `addItems` again adds nothing).
    static func steps(_ number: Int) -> [String] { ["s\(number / 10)", "s\(number / 10 + 1)"] }

    static func jobID(_ step: String, _ index: Int, _ attempt: Int) -> String {
        JobRoute.jobID(runID: "run-1", stepID: step, item: index, attempt: attempt)
    }

    static func deadline(_ jobID: String) -> JobDeadline {
        JobDeadline(jobID: jobID, runID: "run-1", workflow: "w", seconds: 30, error: "late \(jobID)")
    }

    /// Transactions of one to four calls each.
    static func plan(seed: UInt64, transactions: Int) -> [[Call]] {
        var random = Generator(state: seed)
        return (0..<transactions).map { number in
            (0..<Int.random(in: 1...4, using: &random)).map { _ in
                let step = steps(number).randomElement(using: &random)!
                let index = Int.random(in: 0..<5, using: &random)
                let attempt = Int.random(in: 1...2, using: &random)
                switch Int.random(in: 0..<20, using: &random) {
                case 0..<2:
                    let count = Int.random(in: 0...5, using: &random)
                    return .add(
                        step: step, count: count, started: Int.random(in: 0...count, using: &random),
                        deadlines: Bool.random(using: &random))
                case 2..<6: return .start(step: step, index: index, deadline: Bool.random(using: &random))
                case 6..<12:
                    return .finishRunning(step: step, index: index, attempt: attempt, ok: Bool.random(using: &random))
                case 12..<14: return .finish(step: step, index: index, attempt: attempt)
                case 14..<18:
                    return .retry(step: step, index: index, attempt: attempt, staged: Bool.random(using: &random))
                case 18: return .skip(step: step)
                default: return Int.random(in: 0..<4, using: &random) == 0 ? .abandon : .skip(step: step)
                }
            }
        }
    }

    /// Makes the calls on `tx`; what each answered, then everything a decision could read of the items, as text.
    static func make(_ calls: [Call], steps: [String], on tx: any RunStoreTransaction) throws -> [String] {
        var answers: [String] = []
        for call in calls {
            switch call {
            case .add(let step, let count, let started, let deadlines):
                if deadlines {
                    for index in 0..<started {
                        try tx.addDeadline(deadline(jobID(step, index, 1)), startingAt: 1_000)
                    }
                }
                let written = try tx.addItems(
                    runID: "run-1", stepID: step, items: (0..<count).map { .string("\(step)\($0)") },
                    started: (0..<started).map { ["n": .int($0)] })
                answers.append("added \(written.sorted())")
            case .start(let step, let index, let deadline):
                if deadline { try tx.addDeadline(Self.deadline(jobID(step, index, 1)), startingAt: 2_000) }
                try tx.startItem(jobID: jobID(step, index, 1), input: ["started": .int(index)])
            case .finishRunning(let step, let index, let attempt, let ok):
                let recorded = try tx.finishRunningItem(
                    jobID: jobID(step, index, attempt), result: ok ? .success(["out": .int(index)]) : .failure("no"),
                    startedAt: 10, finishedAt: 11)
                answers.append("finished \(recorded.map { "\($0)" } ?? "none")")
            case .finish(let step, let index, let attempt):
                try tx.finishItem(
                    jobID: jobID(step, index, attempt), result: .failure("not rendered"), startedAt: nil,
                    finishedAt: 12)
            case .retry(let step, let index, let attempt, let staged):
                let id = jobID(step, index, attempt + 1)
                try tx.addDeadline(deadline(id), startingAt: staged ? 3_000 : nil)
                try tx.addItemAttempt(
                    ItemAttemptRecord(
                        jobID: id, runID: "run-1", stepID: step, index: index, attempt: attempt + 1, status: .running,
                        item: .string("\(step)\(index)"), input: ["retry": .int(attempt + 1)]))
            case .skip(let step):
                answers.append("skipped \(try tx.skipPendingItems(runID: "run-1", stepID: step, reason: "break"))")
            case .abandon:
                try tx.abandonPendingItems(runID: "run-1", error: "run failed")
            }
        }
        for step in steps {
            for concurrency in [1, 2, 10] {
                let slots = try tx.itemsToStart(runID: "run-1", stepID: step, concurrency: concurrency)
                answers.append("\(step) slots \(concurrency): \(slots)")
            }
            answers.append("\(step) latest: \(try tx.latestItems(runID: "run-1", stepID: step))")
            for index in 0..<5 {
                for attempt in 1...3 {
                    let item = try tx.item(jobID: jobID(step, index, attempt))
                    answers.append("\(index)/\(attempt): \(item.map { "\($0)" } ?? "none")")
                }
            }
        }
        return answers
    }

    /// A row as text.
    static func text(_ row: [SQLiteConnection.Value]) -> String {
        row.map { value in
            switch value {
            case .null: "null"
            case .int(let v): "\(v)"
            case .double(let v): "\(v)"
            case .text(let v): v
            case .blob(let v): "\(v)"
            }
        }.joined(separator: " ")
    }

    /// The items' rows and the job deadlines, times aside.
    static func rows(_ database: SQLiteDatabase) async throws -> [String] {
        try await database.read { db in
            try db.query(
                """
                SELECT job_id, step_id, item_index, attempt, status, item, input, output, error, deadline_seconds,
                    deadline_error, deadline_due IS NULL FROM step_items ORDER BY job_id
                """
            ).map(Self.text)
                + db.query("SELECT job_id, seconds, error, due_at, expired_at FROM job_deadlines ORDER BY job_id")
                .map(Self.text)
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64]) func keptSpeculatedAndReadItemsAnswerAlike(seed: UInt64) async throws {
        let plan = Self.plan(seed: seed, transactions: 100)
        try await SQLRunStoreTests.withDatabase { keptFile in
            try await SQLRunStoreTests.withDatabase { speculatedFile in
                try await SQLRunStoreTests.withDatabase { readFile in
                    let kept = try SQLRunStore(bus: EmbeddedBus(database: keptFile))
                    let speculated = try SQLRunStore(bus: EmbeddedBus(database: speculatedFile))
                    _ = try SQLRunStore(bus: EmbeddedBus(database: readFile))
                    let event = TriggerEvent(id: "e-1", instance: "i", output: ["n": 1])
                    for store in [kept, speculated] {
                        let created = try await store.transaction(acknowledging: []) { tx in
                            (try tx.createRun(id: "run-1", workflow: "w", event: event), [])
                        }
                        #expect(created)
                    }
                    // The statements alone: a transaction with nothing kept.
                    let created = try await readFile.writeTransaction { db in
                        try SQLRunStoreTransaction(db: db).createRun(id: "run-1", workflow: "w", event: event)
                    }
                    #expect(created)
                    var seen: Set<String> = []
                    // Another connection to the kept store's file, which writes now and then: the next transaction
                    // reads the items again from the file (and a speculation is then not made over them).
                    let poker = try SQLiteDatabase(path: keptFile.path)
                    for (number, calls) in plan.enumerated() {
                        if number % 7 == 3 {
                            try await poker.writeTransaction { db in
                                try db.query("CREATE TABLE IF NOT EXISTS poke (n INTEGER)")
                                try db.query("INSERT INTO poke (n) VALUES (?)", [.int(Int64(number))])
                            }
                        }
                        let read = try await readFile.writeTransaction { db in
                            let tx = SQLRunStoreTransaction(db: db)
                            defer { try? tx.writeStagedDeadlines() }
                            return try Self.make(calls, steps: Self.steps(number), on: tx)
                        }
                        let keptAnswers = try await kept.transaction(acknowledging: []) { tx in
                            (try Self.make(calls, steps: Self.steps(number), on: tx), [])
                        }
                        let speculation = try #require(speculated.speculation(runID: "run-1"))
                        let speculatedAnswers = try Self.make(calls, steps: Self.steps(number), on: speculation)
                        #expect(speculation.isUsable, "\(speculation.unusable ?? "")")
                        let applied = try await speculated.transaction(acknowledging: []) { tx in
                            (try tx.apply(speculation), [])
                        }
                        #expect(applied, "transaction \(number)")
                        #expect(keptAnswers == read, "transaction \(number): \(calls)")
                        #expect(speculatedAnswers == read, "transaction \(number): \(calls)")
                        let rows = try await Self.rows(readFile)
                        seen.formUnion(rows)
                        for (way, file) in [("kept", keptFile), ("speculated", speculatedFile)] {
                            let other = try await Self.rows(file)
                            let difference =
                                "transaction \(number), \(way): \(calls): only there: \(Set(other).subtracting(rows)); "
                                + "missing: \(Set(rows).subtracting(other))"
                            #expect(other == rows, Comment(rawValue: difference))
                        }
                        guard keptAnswers == read, speculatedAnswers == read, applied else { return }
                    }
                    // The plan went through every state an item can be in.
                    let rows = seen.joined(separator: "\n")
                    for status in ["pending", "running", "succeeded", "failed", "skipped"] {
                        #expect(rows.contains(" \(status) "), "no \(status) item")
                    }
                }
            }
        }
    }

    @Test func aRunsItemsAreKeptAcrossTransactionsAndReadAgainAfterAnotherConnectionWrote() async throws {
        try await StoreKind.sqlite.withStore { fixture in
            let file = try #require(fixture.database as? SQLiteDatabase)
            let store = fixture.store
            let event = TriggerEvent(id: "e-1", instance: "i", output: [:])
            try await store.transaction(acknowledging: []) { tx in
                _ = try tx.createRun(id: "run-1", workflow: "w", event: event)
                return (try tx.addItems(runID: "run-1", stepID: "f", items: ["a", "b"], started: []), [])
            }
            #expect(RunStateCache.cache(for: file).entry("run-1")?.items?.rows.count == 2)
            // Another connection starts an item: the next decision reads the items again.
            let other = try SQLRunStore(bus: EmbeddedBus(database: SQLiteDatabase(path: file.path)))
            try await other.transaction(acknowledging: []) { tx in
                (try tx.startItem(jobID: Self.jobID("f", 0, 1), input: ["x": 1]), [])
            }
            let slots = try await store.transaction(acknowledging: []) { tx in
                (try tx.itemsToStart(runID: "run-1", stepID: "f", concurrency: 1), [])
            }
            #expect(slots == ItemSlots(next: [], morePending: true, anyRunning: true))
            // A run that ends leaves the cache, its items with it.
            _ = try await store.transaction(acknowledging: []) { tx in
                (try tx.finishRun(id: "run-1", status: .failed, error: "stop", output: nil), [])
            }
            #expect(RunStateCache.cache(for: file).entry("run-1") == nil)
        }
    }

    @Test func aSpeculationFoundUntrueAtItsReplayFailsItsBatchAndEmptiesTheCache() async throws {
        try await StoreKind.sqlite.withStore { fixture in
            let file = try #require(fixture.database as? SQLiteDatabase)
            let store = fixture.store
            let event = TriggerEvent(id: "e-1", instance: "i", output: [:])
            _ = try await store.transaction(acknowledging: []) { tx in
                _ = try tx.createRun(id: "run-1", workflow: "w", event: event)
                return (try tx.addItems(runID: "run-1", stepID: "f", items: ["a", "b"], started: ["a", "b"]), [])
            }
            let speculation = try #require(store.speculation(runID: "run-1"))
            #expect(
                try speculation.finishRunningItem(
                    jobID: Self.jobID("f", 0, 1), result: .success(["x": 1]), startedAt: nil, finishedAt: nil) != nil)
            // A write on the same connection that no decision made (nothing does so; here to make the cache untrue).
            try await file.writeTransaction { db in
                try db.query("UPDATE step_items SET status = 'failed' WHERE job_id = ?", [.text(Self.jobID("f", 0, 1))])
            }
            await #expect(throws: RelayError.self) {
                try await store.transaction(acknowledging: []) { tx in (try tx.apply(speculation), []) }
            }
            // Nothing of it was written, and the next decision reads the file.
            #expect(RunStateCache.cache(for: file).count == 0)
            #expect(store.speculation(runID: "run-1") == nil)
            let item = try await store.transaction(acknowledging: []) { tx in
                (try tx.item(jobID: Self.jobID("f", 0, 1)), [])
            }
            #expect(item?.status == .failed && item?.output == nil)
        }
    }

    @Test func theStatementsAnswerForARunWithTooManyItemsToKeepAndForOneThatHasEnded() async throws {
        try await StoreKind.sqlite.withStore { fixture in
            let file = try #require(fixture.database as? SQLiteDatabase)
            let store = fixture.store
            let cache = RunStateCache.cache(for: file)
            let event = TriggerEvent(id: "e-1", instance: "i", output: [:])
            // 10,000 items of 300 characters: more than a quarter of the cache's bound, as it accounts them.
            let big = (0..<10_000).map { JSONValue.string(String(repeating: "x", count: 300) + "\($0)") }
            _ = try await store.transaction(acknowledging: []) { tx in
                _ = try tx.createRun(id: "run-1", workflow: "w", event: event)
                _ = try tx.createRun(id: "run-2", workflow: "w", event: event)
                _ = try tx.addItems(runID: "run-2", stepID: "f", items: ["a", "b", "c"], started: ["a"])
                return (try tx.addItems(runID: "run-1", stepID: "f", items: big, started: []), [])
            }
            #expect(cache.entry("run-1")?.itemsUnkept == true && cache.entry("run-1")?.items == nil)
            #expect(cache.entry("run-2")?.items?.rows.count == 3)
            // Read by the statements, with the answers the kept items would give; a speculation does not answer.
            let slots = try await store.transaction(acknowledging: []) { tx in
                try tx.startItem(jobID: JobRoute.jobID(runID: "run-1", stepID: "f", item: 0, attempt: 1), input: 0)
                return (try tx.itemsToStart(runID: "run-1", stepID: "f", concurrency: 2), [])
            }
            #expect(slots.next.map(\.index) == [1] && slots.morePending && slots.anyRunning)
            #expect(cache.entry("run-1")?.itemsUnkept == true)
            let speculation = try #require(store.speculation(runID: "run-1"))
            #expect(throws: RunSpeculation.Unanswerable.self) {
                try speculation.itemsToStart(runID: "run-1", stepID: "f", concurrency: 2)
            }
            // A run that has ended leaves the cache; a late item result of it is recorded by the statements.
            _ = try await store.transaction(acknowledging: []) { tx in
                (try tx.finishRun(id: "run-2", status: .failed, error: "stop", output: nil), [])
            }
            let late = try await store.transaction(acknowledging: []) { tx in
                let item = try tx.finishRunningItem(
                    jobID: JobRoute.jobID(runID: "run-2", stepID: "f", item: 0, attempt: 1), result: .success([:]),
                    startedAt: nil, finishedAt: nil)
                return ((item?.status, try tx.latestItems(runID: "run-2", stepID: "f").map(\.status)), [])
            }
            #expect(late.0 == .succeeded && late.1 == [.succeeded, .pending, .pending])
            #expect(cache.entry("run-2") == nil)
        }
    }
}
