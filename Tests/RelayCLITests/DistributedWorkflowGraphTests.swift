import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Workflow graphs on Kafka with Relay's own processes (issue #13): a `relay dispatcher`, which keeps the run store
/// in DIR/.relay/relay.sqlite, and one `relay worker --concurrency 8` on the test broker; each event is published
/// on the broker by `relay events publish`. The constructs that `KafkaWorkflowGraphTests` and `KafkaForEachTests`
/// check in one process: a diamond whose branches run in parallel, an if/else with a join, a bounded `for_each`.
///
/// One deployment serves the whole suite (`.graphDeployment`), under a topic prefix of its own; each test has a
/// workflow of its own and reads what happened from the dispatcher's run store file.
@Suite(
    .serialized,
    .enabled(if: KafkaKill.broker != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"),
    .graphDeployment)
struct DistributedWorkflowGraphTests {
    static let workflows = [
        "kg_diamond": """
        name: kg_diamond
        trigger: {plugin: webhook, trigger: webhook, input: {path: kg-diamond}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: "{{ trigger.who }}"}}
          - {id: b, plugin: sleep, action: sleep, needs: [a], input: {interval: 1}}
          - {id: c, plugin: sleep, action: sleep, needs: [a], input: {interval: 1}}
          - id: d
            plugin: base64
            action: encode
            needs: [b, c]
            input:
              content: "{{ steps.a.output.data }} after {{ steps.b.output.slept }}+{{ steps.c.output.slept }}"
        """,
        "kg_branch": """
        name: kg_branch
        trigger: {plugin: webhook, trigger: webhook, input: {path: kg-branch}}
        steps:
          - {id: check, plugin: type_converter, action: string_to_boolean, input: {input: "{{ trigger.loud }}"}}
          - {id: then, plugin: base64, action: encode, needs: [check], when: steps.check.output.output,
             input: {content: loud}}
          - {id: else, plugin: base64, action: encode, needs: [check], when: not steps.check.output.output,
             input: {content: quiet}}
          - {id: join, plugin: base64, action: encode, needs: [then, else],
             input: {content: "then {{ steps.then.status }}, else {{ steps.else.status }}"}}
        """,
        "kg_loop": """
        name: kg_loop
        trigger: {plugin: webhook, trigger: webhook, input: {path: kg-loop}}
        steps:
          - id: each
            plugin: sleep
            action: sleep
            for_each: "{{ trigger.intervals }}"
            concurrency: 3
            input: {interval: "{{ item }}"}
        """,
    ]

    func deployment() throws -> GraphDeployment {
        try #require(GraphDeployment.current, "the suite's deployment (trait .graphDeployment) runs")
    }

    static func step(_ id: String, of run: RunDetail) throws -> StepAttempt {
        try #require(run.steps.first { $0.stepID == id }, "step \(id) in \(run.json)")
    }

    @Test func aDiamondRunsItsBranchesInParallelAndJoinsThem() async throws {
        let run = try await deployment().run("kg_diamond", event: #"{"who": "Kafka"}"#)

        #expect(run.summary.status == .succeeded, "\(run.json)")
        #expect(run.steps.map(\.stepID).sorted() == ["a", "b", "c", "d"], "each step once: \(run.json)")
        let joined = Data("\(Data("Kafka".utf8).base64EncodedString()) after 1+1".utf8).base64EncodedString()
        let d = try Self.step("d", of: run)
        #expect(d.output == ["data": .string(joined)], "d read a, b and c")
        let (b, c) = (try Self.step("b", of: run), try Self.step("c", of: run))
        let (bStart, bEnd) = (try #require(b.startedAt), try #require(b.finishedAt))
        let (cStart, cEnd) = (try #require(c.startedAt), try #require(c.finishedAt))
        #expect(bStart < cEnd && cStart < bEnd, "b and c overlap: b \(bStart)–\(bEnd), c \(cStart)–\(cEnd)")
        // A recorded end is the dispatcher's, when the result arrived: later than the sleep's end, by the trip back
        // through the broker, so two branches run one after the other could overlap by that much. A start is the
        // worker's, when the sleep began, and each sleep lasts 1 s: starts less than 1 s apart prove that one
        // branch started while the other slept.
        #expect(abs(bStart - cStart) < 1, "one branch started while the other slept: b at \(bStart), c at \(cStart)")
        #expect(d.scheduledAt >= max(bEnd, cEnd), "the join started once both branches had ended")
    }

    /// `relay dispatcher` serves the operator's API over its run store, and the web UI: a run started by hand
    /// through it goes through the broker and is read back through it; a token made by `relay tokens` in the
    /// project applies.
    @Test func theDispatcherServesTheOperatorAPI() async throws {
        let deployment = try #require(GraphDeployment.current)
        let created = try await RelayProcess.run(["tokens", "create", "kg", "--dir", deployment.directory.path])
        try #require(created.status == 0, "\(created.stderr)")
        let headers = ["Authorization": "Bearer \(created.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"]
        let base = "http://127.0.0.1:\(deployment.dispatcherPort)/api/v1"
        let started = try await TestHTTP.send(
            "POST", base + "/workflows/kg_diamond/runs",
            headers: headers.merging(["Content-Type": "application/json"]) { $1 },
            body: Data(#"{"who": "api"}"#.utf8))
        #expect(started.status == 202, "\(started.text)")
        let runID = try #require(try JSONParser.parse(started.text)["run_id"]?.stringValue)
        var run: JSONValue = .null
        #expect(
            await waitFor(seconds: 60) {
                let reply = try? await TestHTTP.send("GET", base + "/runs/\(runID)", headers: headers)
                run = (reply.flatMap { try? JSONParser.parse($0.text) }) ?? .null
                return run["status"] == "succeeded"
            }, "\(run)\n\(deployment.logs())")
        #expect(run["graph"]?.arrayValue?.count == 4)
        let listed = try await TestHTTP.send("GET", base + "/runs?workflow=kg_diamond&limit=500", headers: headers)
        #expect(listed.text.contains(runID))
        #expect(try await TestHTTP.send("GET", base + "/runs").status == 401)
        let ready = try await TestHTTP.send("GET", "http://127.0.0.1:\(deployment.dispatcherPort)/readyz")
        #expect(ready.status == 200, "\(ready.text)")
        // The web UI too, beside the API it reads (docs/ui.md): the page and its modules, without a token.
        let page = try await TestHTTP.send("GET", "http://127.0.0.1:\(deployment.dispatcherPort)/")
        #expect(page.status == 200 && page.text.contains(#"<template id="tpl-run">"#), "\(page.text.prefix(200))")
        let module = try await TestHTTP.send("GET", "http://127.0.0.1:\(deployment.dispatcherPort)/ui/run.js")
        #expect(module.status == 200 && module.text.contains("export class RunPage"))
    }

    @Test func anIfElseWithAJoinSkipsOneBranchAndRunsTheJoinOnce() async throws {
        let deployment = try deployment()
        // Both ways: one event takes `then`, the other `else`.
        let loud = try await deployment.publish("kg_branch", event: #"{"loud": "true"}"#)
        let quiet = try await deployment.publish("kg_branch", event: #"{"loud": "no"}"#)
        for (event, taken, skipped) in [(loud, "then", "else"), (quiet, "else", "then")] {
            let run = try await deployment.finishedRun(event: event)
            #expect(run.summary.status == .succeeded, "\(run.json)")
            #expect(run.steps.map(\.stepID).sorted() == ["check", "else", "join", "then"], "each step once")
            let statuses = Dictionary(run.steps.map { ($0.stepID, $0.status) }, uniquingKeysWith: { $1 })
            #expect(
                statuses == ["check": .succeeded, taken: .succeeded, skipped: .skipped, "join": .succeeded],
                "\(taken) runs, \(skipped) is skipped: \(run.json)")
            let join = try Self.step("join", of: run)
            let seen = "then \(statuses["then"]?.rawValue ?? "?"), else \(statuses["else"]?.rawValue ?? "?")"
            #expect(join.input == ["content": .string(seen)], "the join saw one branch run and the other skipped")
            #expect(join.output == ["data": .string(Data(seen.utf8).base64EncodedString())])
        }
    }

    @Test func aForEachKeepsItemOrderAndRunsAtMostItsConcurrency() async throws {
        // Items of 2, 1 and 0 s: an item often ends before those listed before it, so outputs in item order are
        // Relay's doing, not the order the results came in.
        let intervals = (0..<20).map { [2, 1, 0][$0 % 3] }
        let event = #"{"intervals": \#(intervals)}"#
        let run = try await deployment().run("kg_loop", event: event)

        #expect(run.summary.status == .succeeded, "\(run.json)")
        let each = try Self.step("each", of: run)
        #expect(
            each.output == .array(intervals.map { ["slept": .int($0)] }), "every item's output once, in item order")
        try #require(run.items.map(\.index).sorted() == Array(0..<20), "one attempt per item: \(run.json)")
        #expect(run.items.allSatisfy { $0.status == .succeeded })
        #expect(run.items.allSatisfy { $0.input == ["interval": .int(intervals[$0.index])] }, "each item its input")
        let finishOrder = run.items.sorted { ($0.finishedAt ?? 0) < ($1.finishedAt ?? 0) }.map(\.index)
        #expect(finishOrder != Array(0..<20), "the items finished out of item order: \(finishOrder)")

        // At most 3 in flight, counted over the recorded [start, end]: each contains the time the item really ran
        // (the worker's start; the dispatcher's record of its result), so this count is never below the truth.
        var recorded: [(start: Double, end: Double)] = []
        for item in run.items {
            recorded.append((try #require(item.startedAt), try #require(item.finishedAt)))
        }
        let most = Self.mostAtOnce(recorded)
        #expect(most <= 3, "never more than 3 items in flight, found \(most): \(run.json)")
        // And the bound is used: an item sleeps for its interval from its start, so [start, start + interval] is
        // a time it surely ran; 3 of those holding one instant prove 3 items ran at once.
        let surely = Self.mostAtOnce(
            zip(run.items, recorded).map { item, span in (span.start, span.start + Double(intervals[item.index])) })
        #expect(surely == 3, "3 items ran at once: \(run.json)")
    }

    /// The most intervals [start, end) that hold one instant (at one instant, an end comes before a start).
    static func mostAtOnce(_ intervals: [(start: Double, end: Double)]) -> Int {
        var edges: [(time: Double, change: Int)] = []
        for interval in intervals { edges += [(interval.start, 1), (interval.end, -1)] }
        edges.sort { $0.time < $1.time || ($0.time == $1.time && $0.change < $1.change) }
        var current = 0
        var most = 0
        for (_, change) in edges {
            current += change
            most = max(most, current)
        }
        return most
    }
}

/// The deployment the suite's tests share: a dispatcher and a worker process on the test broker, reading one
/// project directory (the suite's workflows), with topics and groups under a prefix of their own.
struct GraphDeployment: Sendable {
    @TaskLocal static var current: GraphDeployment?

    let directory: URL
    let environment: [String: String]
    /// The dispatcher's HTTP port: `/metrics`, `/readyz` and the operator's API.
    var dispatcherPort = 0

    var database: String { directory.appendingPathComponent(".relay/relay.sqlite").path }

    /// Publishes `event` and returns its run once it has finished.
    func run(_ workflow: String, event: String) async throws -> RunDetail {
        try await finishedRun(event: try await publish(workflow, event: event))
    }

    /// Publishes `event` (JSON) as `workflow`'s trigger would, on the broker (`relay events publish` with the
    /// deployment's RELAY_BROKERS and RELAY_TOPIC_PREFIX); returns the event's id.
    func publish(_ workflow: String, event: String) async throws -> String {
        let result = try await RelayProcess.run(
            ["events", "publish", "--dir", directory.path, "--trigger", workflow, "--json", event],
            environment: environment)
        try #require(result.status == 0, "relay events publish: \(result.stderr)")
        // "published event ID for INSTANCE to Kafka BROKERS"
        return try #require(result.stdout.split(separator: " ").dropFirst(2).first.map(String.init), "\(result.stdout)")
    }

    /// The run of `event`, read from the dispatcher's run store once it has finished.
    func finishedRun(event: String) async throws -> RunDetail {
        let store = SQLRunStore(readingFrom: try SQLiteDatabase(path: database))
        var ids: [String] = []
        var run: RunDetail?
        _ = await waitFor(seconds: 60) {
            ids =
                (try? await store.database.readSession { db in
                    try db.query("SELECT id FROM runs WHERE event_id = ?", [.text(event)]).compactMap { $0[0].text }
                }) ?? []
            guard ids.count == 1 else { return ids.count > 1 }
            run = try? await store.run(id: ids[0])
            return run?.summary.status.isFinished == true
        }
        try #require(ids.count <= 1, "one run for event \(event), found \(ids.count)")
        try #require(
            run?.summary.status.isFinished == true,
            "the run of event \(event) finished: \(run.map { "\($0.json)" } ?? "no run")\n\(logs())")
        return try #require(run)
    }

    /// The processes' logs, for a failure's diagnosis.
    func logs() -> String {
        ["dispatcher", "worker"].map { name in
            let log = (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
            return "--- \(name).log (last 10000 characters)\n\(log.suffix(10000))"
        }.joined(separator: "\n")
    }
}

/// Starts the suite's `GraphDeployment` before its first test, once its consumers own their partitions, and stops
/// it after the last (SIGTERM: each process drains and exits 0).
struct GraphDeploymentTrait: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let cluster = try DistributedPipelineTests.Cluster(workflows: DistributedWorkflowGraphTests.workflows)
        var deployment = GraphDeployment(directory: cluster.directory, environment: cluster.environment)
        defer { try? FileManager.default.removeItem(at: cluster.directory) }
        do {
            let (dispatcherPort, workerPort) = (try LoopbackPort.free(), try LoopbackPort.free())
            deployment.dispatcherPort = dispatcherPort
            try cluster.start("dispatcher", ["dispatcher", "--port", String(dispatcherPort)])
            try cluster.start("worker", ["worker", "--concurrency", "8", "--port", String(workerPort)])
            // The worker hosts the plugins the workflows use, one group per plugin's job topic.
            let members = [
                dispatcherPort: [Topics.events, Topics.results],
                workerPort: ["base64", "sleep", "type_converter"].map { Topics.jobs($0) },
            ]
            let partitions = Int(cluster.environment["RELAY_KAFKA_PARTITIONS"] ?? "") ?? 6
            var exited: String?
            let ready = await waitFor(seconds: 90) {
                exited = cluster.processes.first { !$0.value.isRunning }?.key
                if exited != nil { return true }
                for (port, topics) in members {
                    let metrics = await Self.metrics(port: port)
                    for topic in topics where Self.assigned(cluster.prefix + topic, in: metrics) != partitions {
                        return false
                    }
                }
                return true
            }
            try #require(
                ready && exited == nil,
                "the processes joined their groups (\(exited ?? "none") exited)\n\(deployment.logs())")
            try await GraphDeployment.$current.withValue(deployment) { [deployment] in try await function() }
        } catch {
            _ = await cluster.stopAll(grace: .seconds(30))
            throw error
        }
        let statuses = await cluster.stopAll(grace: .seconds(30))
        #expect(
            statuses == ["dispatcher": "exit 0", "worker": "exit 0"], "SIGTERM: drain, exit 0\n\(deployment.logs())")
    }

    /// The process's `/metrics` text; empty while it does not answer.
    static func metrics(port: Int) async -> String {
        guard
            let (data, response) = try? await URLSession.shared.data(
                from: URL(string: "http://127.0.0.1:\(port)/metrics")!),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The partitions of `topic` the process's consumers own: `relay_kafka_assigned_partitions{…topic="…"} N`.
    static func assigned(_ topic: String, in metrics: String) -> Int {
        // (A gauge's value is written as a floating-point number: `3.0`.)
        Int(PipelineMetrics.value(of: PipelineMetrics.Name.assignedPartitions, labels: ["topic": topic], in: metrics))
    }
}

extension Trait where Self == GraphDeploymentTrait {
    /// The suite's dispatcher and worker processes (`GraphDeployment.current` in its tests).
    static var graphDeployment: Self { Self() }
}
