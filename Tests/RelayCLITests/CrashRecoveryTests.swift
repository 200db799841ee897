import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

/// `relay up` killed with SIGKILL in the middle of a burst of runs, then started again: every event gives exactly
/// one run, every run finishes, and every step of every run completes exactly once.
@Suite(.serialized) struct CrashRecoveryTests {
    static let workflow = """
        name: crash
        trigger: {plugin: webhook, trigger: webhook, input: {path: crash}}
        steps:
          - {id: encode, plugin: base64, action: encode, input: {content: "event {{ trigger.n }}"}}
          - {id: hash, plugin: hashit, action: string, input: {string: "{{ steps.encode.output.data }}"}}
          - {id: split, plugin: type_converter, action: string_to_list,
             input: {input: "{{ steps.hash.output.md5 }}", delimiter: "a"}}
        """

    /// Two branches after `encode` (`hash`, `decode`), a join that needs both (`split`: five items), and a loop over
    /// the join's items with fewer slots than items (`each`).
    static let graphWorkflow = """
        name: crash-graph
        trigger: {plugin: webhook, trigger: webhook, input: {path: crash}}
        steps:
          - {id: encode, plugin: base64, action: encode, needs: [], input: {content: "event {{ trigger.n }}"}}
          - {id: hash, plugin: hashit, action: string, needs: [encode],
             input: {string: "{{ steps.encode.output.data }}"}}
          - {id: decode, plugin: base64, action: decode, needs: [encode],
             input: {base64: "{{ steps.encode.output.data }}"}}
          - {id: split, plugin: type_converter, action: string_to_list, needs: [hash, decode],
             input: {input: "{{ steps.decode.output.data }},{{ steps.hash.output.md5 }},x,y,z", delimiter: ","}}
          - {id: each, plugin: base64, action: encode, needs: [split], for_each: "{{ steps.split.output.output }}",
             concurrency: 2, input: {content: "{{ index }}={{ item }}"}}
        """

    /// `relay up` on any free port (the test publishes its events itself): a port picked at random here could be
    /// taken by a parallel test's server or broker, and the process would exit at once.
    func startRelay(_ directory: URL, log: URL) throws -> Process {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", directory.path, "--port", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        return process
    }

    func counts(_ database: SQLiteDatabase) async throws -> (runs: Int, finished: Int) {
        let counts = try await SQLRunStore(readingFrom: database).runCounts()
        return (counts.values.reduce(0, +), counts.filter { $0.key.isFinished }.values.reduce(0, +))
    }

    /// One integer from the run store (`-1` when the query gives none).
    func count(_ database: SQLiteDatabase, _ sql: String) async throws -> Int {
        try await database.read { db in Int(try db.query(sql).first?.first?.int ?? -1) }
    }

    /// A project with `workflow` (triggered by the webhook `crash`) and `total` events published into its file;
    /// `relay up` runs until a 40th of the runs have finished and `midBurst` holds, is killed with SIGKILL, and
    /// is started again until every run has finished, then stopped with SIGTERM. `midBurst` must still hold on
    /// what the store kept at the kill, and runs must be left unfinished. `body` then reads the run store, given
    /// how many events were published: `total`, or a multiple of it when a burst ended before this process saw
    /// it under way (a loaded machine polls late, and a burst of a few thousand runs takes well under a second)
    /// and another was published for the kill to come in. The project is removed afterwards.
    func withRunsAcrossAKill(
        of workflow: String, events total: Int,
        midBurst: (SQLiteDatabase) async throws -> Bool = { _ in true },
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (SQLiteDatabase, _ events: Int) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("workflows"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try workflow.write(
            to: directory.appendingPathComponent("workflows/crash.yaml"), atomically: true, encoding: .utf8)

        // The events are published into the project's file by this process, as a second writer.
        let database = try SQLiteDatabase(path: ProjectLayout(root: directory.path).database)
        let bus = try EmbeddedBus(database: database)
        _ = try SQLRunStore(bus: bus)
        let instance = TriggerBinding(plugin: "webhook", trigger: "webhook", input: ["path": "crash"]).instanceID
        func publish(_ numbers: Range<Int>) async throws {
            try await bus.publish(
                numbers.map { n in
                    TriggerEvent(id: "event-\(n)", instance: instance, output: ["n": .int(n)]).message
                })
        }
        try await publish(0..<total)
        var published = total

        let firstLog = directory.appendingPathComponent("first.log")
        let first = try startRelay(directory, log: firstLog)
        #expect(
            await waitFor {
                guard first.isRunning else { return true }
                let finished = (try? await counts(database).finished) ?? 0
                if finished >= published, published < 10 * total {
                    // The burst ended before this process looked: another one, for the kill to come in.
                    try? await publish(published..<published + total)
                    published += total
                    return false
                }
                // Early in the (latest) burst.
                guard finished >= published - total + max(1, total / 40) else { return false }
                return (try? await midBurst(database)) ?? false
            }, "runs finish before the kill", sourceLocation: sourceLocation)
        try #require(
            first.isRunning, "relay up exited: \((try? String(contentsOf: firstLog, encoding: .utf8)) ?? "")",
            sourceLocation: sourceLocation)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal, sourceLocation: sourceLocation)
        // What the store kept at the kill, read once the process is gone.
        let finishedAtKill = try await counts(database).finished
        #expect(finishedAtKill < published, "the kill must come mid-burst", sourceLocation: sourceLocation)
        let midBurstAtKill = try await midBurst(database)
        #expect(midBurstAtKill, "the kill must come mid-burst", sourceLocation: sourceLocation)

        let secondLog = directory.appendingPathComponent("second.log")
        let second = try startRelay(directory, log: secondLog)
        defer { if second.isRunning { second.terminate() } }
        #expect(
            await waitFor(seconds: 120) {
                (try? await counts(database).finished) ?? 0 >= published || !second.isRunning
            },
            "every run finishes after the restart", sourceLocation: sourceLocation)
        try #require(
            second.isRunning, "relay up exited: \((try? String(contentsOf: secondLog, encoding: .utf8)) ?? "")",
            sourceLocation: sourceLocation)
        second.terminate()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0, "SIGTERM drains and exits 0", sourceLocation: sourceLocation)
        try await body(database, published)
    }

    /// One run per event, every run succeeded, each of the workflow's `steps` succeeded once in every run (no
    /// step with two succeeded attempts), and nothing needed a retry (a job in flight at the kill is delivered
    /// again under its own id; it is not a new attempt).
    func expectEveryStepSucceededOnce(
        _ database: SQLiteDatabase, events total: Int, steps: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let (runs, finished) = try await counts(database)
        #expect(runs == total, "one run per event", sourceLocation: sourceLocation)
        #expect(finished == total, sourceLocation: sourceLocation)
        let failed = try await count(database, "SELECT COUNT(*) FROM runs WHERE status != 'succeeded'")
        let completions = try await count(database, "SELECT COUNT(*) FROM steps WHERE status = 'succeeded'")
        let duplicates = try await count(
            database,
            "SELECT COUNT(*) FROM (SELECT run_id, step_id FROM steps WHERE status = 'succeeded' "
                + "GROUP BY run_id, step_id HAVING COUNT(*) > 1)")
        let retried = try await count(database, "SELECT COUNT(*) FROM steps WHERE attempt > 1")
        #expect(failed == 0, "every run succeeded", sourceLocation: sourceLocation)
        #expect(completions == total * steps, "every step of every run completed", sourceLocation: sourceLocation)
        #expect(duplicates == 0, "no step completed twice", sourceLocation: sourceLocation)
        #expect(retried == 0, "nothing needed a retry", sourceLocation: sourceLocation)
    }

    /// Every job (a step's, or an item's of a loop) went out once and got its result recorded: a decision redone
    /// after the kill publishes nothing twice, and `relay up`'s worker hands a job's result to the dispatcher, which
    /// records it in the transaction that acknowledges the job (the bus records that acknowledgement even beyond its
    /// committed prefix, `bus_acks`), so no job whose result was recorded is delivered again after the kill (a job
    /// in flight at the kill is run again: delivery to plugins is at least once, but its result was never
    /// recorded). No result goes through `relay.results` in one process; each job's attempt (or item) has ended.
    func expectEveryJobSentOnce(
        _ database: SQLiteDatabase, jobs: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let sent = try await count(database, "SELECT COUNT(*) FROM bus_messages WHERE topic LIKE 'relay.jobs.%'")
        let published = try await count(database, "SELECT COUNT(*) FROM bus_messages WHERE topic = 'relay.results'")
        let recorded = try await count(
            database,
            """
            SELECT COUNT(*) FROM (SELECT json_extract(CAST(value AS TEXT), '$.body.meta.jobId') AS job
                FROM bus_messages WHERE topic LIKE 'relay.jobs.%')
            WHERE job IN (SELECT job_id FROM steps WHERE status = 'succeeded')
                OR job IN (SELECT job_id FROM step_items WHERE status = 'succeeded')
            """)
        #expect(sent == jobs, "no job sent twice", sourceLocation: sourceLocation)
        #expect(published == 0, "results decided in their jobs' transactions", sourceLocation: sourceLocation)
        #expect(recorded == jobs, "every job's result recorded", sourceLocation: sourceLocation)
    }

    @Test func everyRunFinishesExactlyOnceAfterAKill() async throws {
        try await withRunsAcrossAKill(of: Self.workflow, events: 2000) { database, total in
            try await expectEveryStepSucceededOnce(database, events: total, steps: 3)
            try await expectEveryJobSentOnce(database, jobs: total * 3)
        }
    }

    /// Issue #13: the same kill on a graph with parallel branches, a join and a `for_each` whose items outnumber
    /// its slots, killed while loops are half done: every item of every loop succeeds once, and each loop's output
    /// is its items' outputs in item order.
    @Test func everyRunOfAGraphWithALoopFinishesExactlyOnceAfterAKill() async throws {
        let items = 5
        // The kill must catch loops halfway: some of their items have succeeded, the loop has not ended.
        let loopsHalfDone: (SQLiteDatabase) async throws -> Bool = { database in
            try await count(
                database,
                """
                SELECT COUNT(DISTINCT i.run_id) FROM step_items i JOIN steps s ON s.run_id = i.run_id
                AND s.step_id = i.step_id WHERE i.step_id = 'each' AND i.status = 'succeeded' AND s.status = 'running'
                """) > 0
        }
        try await withRunsAcrossAKill(
            of: Self.graphWorkflow, events: 1000, midBurst: loopsHalfDone
        ) { database, total in
            try await expectEveryStepSucceededOnce(database, events: total, steps: 5)
            // Four steps' jobs and five items' (the loop's step sends none of its own).
            try await expectEveryJobSentOnce(database, jobs: total * (4 + items))

            let itemCompletions = try await count(
                database, "SELECT COUNT(*) FROM step_items WHERE step_id = 'each' AND status = 'succeeded'")
            let itemDuplicates = try await count(
                database,
                "SELECT COUNT(*) FROM (SELECT run_id, step_id, item_index FROM step_items WHERE status = 'succeeded' "
                    + "GROUP BY run_id, step_id, item_index HAVING COUNT(*) > 1)")
            let itemsUnfinished = try await count(
                database, "SELECT COUNT(*) FROM step_items WHERE status != 'succeeded' OR attempt > 1")
            #expect(itemCompletions == total * items, "every item of every loop completed")
            #expect(itemDuplicates == 0, "no item completed twice")
            #expect(itemsUnfinished == 0, "no item failed, was left behind or needed a retry")
            #expect(try await mostItemsAtOnce(database, step: "each") <= 2, "never more items at once than slots")

            // Every run's outputs: the join has both branches' outputs, the loop its items' outputs in item order.
            let outputs = try await database.read { db in
                try db.query(
                    """
                    SELECT r.event_id, s.step_id, s.output FROM runs r JOIN steps s ON s.run_id = r.id
                    WHERE s.status = 'succeeded' AND s.step_id IN ('hash', 'split', 'each')
                    """
                ).map { row in
                    (row[0].text ?? "", row[1].text ?? "", row[2].text.flatMap { try? JSONParser.parse($0) } ?? .null)
                }
            }
            var byEvent: [String: [String: JSONValue]] = [:]
            for (event, step, output) in outputs { byEvent[event, default: [:]][step] = output }
            var wrongRuns = 0
            var firstWrong: [String] = []
            for n in 0..<total {
                let run = byEvent["event-\(n)"] ?? [:]
                let md5 = run["hash"]?["md5"]?.stringValue ?? ""
                let split: [String] = ["event \(n)", md5, "x", "y", "z"]
                let each = JSONValue.array(
                    split.enumerated().map { index, item in
                        ["data": .string(Data("\(index)=\(item)".utf8).base64EncodedString())]
                    })
                if md5.count != 32 || run["split"]?["output"] != .array(split.map(JSONValue.string))
                    || run["each"] != each
                {
                    wrongRuns += 1
                    if firstWrong.count < 3 {
                        firstWrong.append(
                            "event-\(n): split \(run["split"] ?? "missing"), each \(run["each"] ?? "missing")")
                    }
                }
            }
            #expect(wrongRuns == 0, "runs with wrong outputs, the first: \(firstWrong)")
        }
    }

    /// The most items of `step` of one run that were running at one time, from the items' recorded times: a
    /// worker's start of the item (or the dispatcher's, without one) to the dispatcher's record of its result.
    /// The dispatcher starts an item only after recording the result that freed its slot, so a well-kept bound
    /// never shows more than `concurrency` overlapping.
    func mostItemsAtOnce(_ database: SQLiteDatabase, step: String) async throws -> Int {
        let rows = try await database.read { db in
            try db.query(
                "SELECT run_id, started_at, finished_at FROM step_items WHERE step_id = ? AND status = 'succeeded'",
                [.text(step)])
        }
        var spans: [String: [(start: Double, end: Double)]] = [:]
        for row in rows {
            // An item without its times cannot be placed: count it as over any bound.
            guard case .text(let run) = row[0], case .double(let start) = row[1], case .double(let end) = row[2]
            else { return Int.max }
            spans[run, default: []].append((start, end))
        }
        return spans.values.map { runSpans in
            runSpans.map { span in runSpans.filter { $0.start <= span.start && span.start < $0.end }.count }.max()
                ?? 0
        }.max() ?? 0
    }
}
