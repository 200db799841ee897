import Foundation
import Logging
import RelayCore
import RelayKafka
import RelayPlugins
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `/metrics`, `/healthz` and `/readyz` of pipeline processes, read over a real socket.
@Suite struct MetricsTests {
    /// Two webhook runs that succeed and one that fails: the counters carry their workflow, plugin and status, the
    /// histograms' buckets moved, and the gauges read at scrape time say nothing is left behind.
    @Test func metricsAfterRunsAreLabelledAndHistogramsMove() async throws {
        try await withEmbeddedPipeline(
            workflows: [
                "echo.yaml": """
                name: echo
                trigger: {plugin: webhook, trigger: webhook, input: {path: echo}}
                steps:
                  - {id: encode, plugin: base64, action: encode, input: {content: "n {{ trigger.json.n }}"}}
                """,
                "broken.yaml": """
                name: broken
                trigger: {plugin: webhook, trigger: webhook, input: {path: broken}}
                steps:
                  - {id: decode, plugin: base64, action: decode, input: {base64: "a"}}
                """,
            ]
        ) { pipeline, port in
            let client = WebhookClient(port: port, store: pipeline.store)
            #expect(try await client.encoded(path: "echo") != nil)
            #expect(try await client.encoded(path: "echo") != nil)
            #expect(await waitFor { (try? await client.post(path: "broken")) == 202 })
            #expect(await waitFor { await client.runs(of: "broken").contains { $0.status == .failed } })

            let text = try await HTTPText.get(port: port, path: "/metrics")
            #expect(text.status == 200)
            func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
                PipelineMetrics.value(of: name, labels: labels, in: text.body)
            }
            typealias Name = PipelineMetrics.Name
            #expect(value(Name.runsStarted, ["workflow": "echo"]) == 2, "\(text.body)")
            #expect(value(Name.runsFinished, ["workflow": "echo", "status": "succeeded"]) == 2)
            #expect(value(Name.runsFinished, ["workflow": "broken", "status": "failed"]) == 1)
            #expect(value(Name.runsFinished, ["workflow": "echo", "status": "failed"]) == 0)
            #expect(pipeline.metrics.runsFinished == Int(value(Name.runsFinished)))
            #expect(value(Name.jobs, ["workflow": "echo", "plugin": "base64", "status": "succeeded"]) == 2)
            #expect(value(Name.jobs, ["workflow": "broken", "plugin": "base64", "status": "failed"]) == 1)
            #expect(value(Name.eventsPublished, ["plugin": "webhook", "trigger": "webhook", "workflow": "echo"]) == 2)
            #expect(value(Name.deadLetters) == 0)
            #expect(text.body.contains("# TYPE \(Name.stepDuration) histogram"))

            // Histograms: every observation is in the +Inf bucket and, being under a minute, in the 60 s one.
            let encode = ["plugin": "base64", "action": "encode"]
            #expect(value(Name.stepDuration + "_count", encode) == 2)
            #expect(value(Name.stepDuration + "_bucket", encode.merging(["le": "+Inf"]) { $1 }) == 2)
            #expect(value(Name.stepDuration + "_bucket", encode.merging(["le": "60.0"]) { $1 }) == 2)
            #expect(value(Name.stepDuration + "_sum", encode) > 0)
            #expect(value(Name.runDuration + "_count", ["workflow": "echo"]) == 2)
            #expect(value(Name.runDuration + "_bucket", ["workflow": "echo", "le": "60.0"]) == 2)
            #expect(value(Name.runDuration + "_count", ["workflow": "broken"]) == 1)
            #expect(value(Name.eventToFirstJob + "_count", ["workflow": "echo"]) == 2)
            #expect(value(Name.eventToFirstJob + "_bucket", ["workflow": "echo", "le": "60.0"]) == 2)

            // Gauges read at the scrape: nothing in flight, waiting or kept; the dispatcher has read every event.
            #expect(value(Name.jobsInFlight) == 0)
            #expect(value(Name.scheduledRetries) == 0)
            #expect(value(Name.storedDeadLetters) == 0)
            #expect(
                await waitFor {
                    let now = (try? await HTTPText.get(port: port, path: "/metrics").body) ?? ""
                    return PipelineMetrics.samples(in: now).contains {
                        $0.name == Name.backlog && $0.labels["group"] == "relay.dispatcher"
                            && $0.labels["topic"] == "relay.events" && $0.value == 0
                    }
                })
        }
    }

    /// The backlog gauge counts what a group has not consumed: published jobs nobody takes wait in it.
    @Test func theEmbeddedBacklogCountsMessagesPastTheCommittedPosition() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-backlog-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = try EmbeddedBus(database: try SQLiteDatabase(path: directory.appendingPathComponent("b.sqlite").path))
        let subscription = try await bus.subscribe(topic: "jobs", group: "workers")
        #expect(try await bus.backlog() == [ConsumerBacklog(group: "workers", topic: "jobs", messages: 0)])
        try await bus.publish((0..<3).map { BusMessage(topic: "jobs", key: "k", value: Array("\($0)".utf8)) })
        #expect(try await bus.backlog() == [ConsumerBacklog(group: "workers", topic: "jobs", messages: 3)])
        let first = try #require(try await subscription.next())
        try await subscription.acknowledge(first)
        #expect(try await bus.backlog() == [ConsumerBacklog(group: "workers", topic: "jobs", messages: 2)])
        await subscription.close()
    }

    /// A webhook path is whatever a client sent: past the limit, new paths share one `other` series.
    @Test func webhookRejectionsKeepTheirSeriesBounded() {
        let metrics = PipelineMetrics()
        metrics.webhookRejected(path: "github", reason: "signature")
        metrics.webhookRejected(path: "github", reason: "signature")
        for index in 0..<(PipelineMetrics.webhookLabelLimit + 50) {
            metrics.webhookRejected(path: "probe-\(index)", reason: "not_found")
        }
        let name = PipelineMetrics.Name.webhookRejections
        #expect(metrics.value(of: name, labels: ["path": "github", "reason": "signature"]) == 2)
        #expect(metrics.value(of: name, labels: ["path": "probe-0", "reason": "not_found"]) == 1)
        #expect(metrics.value(of: name) == Double(PipelineMetrics.webhookLabelLimit + 52))
        let series = PipelineMetrics.samples(in: metrics.registry.emitToString()).filter { $0.name == name }
        #expect(series.count <= PipelineMetrics.webhookLabelLimit + 1)
        #expect(metrics.value(of: name, labels: ["path": "other"]) > 0)
    }

    /// `/healthz` answers; `/readyz` is 200 when the embedded bus and the run store answer.
    @Test func theEmbeddedPipelineIsReady() async throws {
        try await withEmbeddedPipeline(workflows: [:]) { _, port in
            let health = try await HTTPText.get(port: port, path: "/healthz")
            #expect(health.status == 200)
            #expect(health.body == "ok\n")
            let ready = try await HTTPText.get(port: port, path: "/readyz")
            #expect(ready.status == 200, "\(ready.body)")
            let json = try JSONParser.parse(bytes: Array(ready.body.utf8))
            #expect(json["ready"] == .bool(true))
            #expect(json["reasons"] == .array([]))
        }
    }

    /// On Kafka (librdkafka's mock cluster), `/readyz` is 503 with the reason while the process's consumer group has
    /// not joined, and 200 once its member has an assignment. The backlog is the lag to the high watermark.
    @Test func readyzWaitsForTheConsumerGroupsOnKafka() async throws {
        let cluster = try KafkaMockCluster(brokers: 1)
        try cluster.createTopic("relay.jobs.demo", partitions: 2)
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [cluster.bootstrapServers]))
        configuration.defaultPartitions = 0 // the mock cluster has no CreateTopics
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        let transport = try KafkaTransport(configuration: configuration)
        let group = Worker.group(of: "demo")
        let readiness = PipelineReadiness([PipelineReadiness.kafka(transport, groups: [group])])
        try await withHTTP(metrics: PipelineMetrics(), readiness: readiness) { port in
            let joining = try await HTTPText.get(port: port, path: "/readyz")
            #expect(joining.status == 503, "\(joining.body)")
            let json = try JSONParser.parse(bytes: Array(joining.body.utf8))
            #expect(json["ready"] == .bool(false))
            #expect(json["reasons"] == .array([.string("consumer group \(group) has not joined yet (no assignment)")]))

            try await transport.publish((0..<5).map { BusMessage(topic: "relay.jobs.demo", key: "\($0)", value: []) })
            let subscription = try await transport.subscribe(topic: "relay.jobs.demo", group: group)
            // Polling serves the group join: the first message comes once the member has its partitions.
            let first = try #require(try await subscription.next())
            #expect(await waitFor { (try? await HTTPText.get(port: port, path: "/readyz").status) == 200 })
            // Nothing committed yet: all five wait; once all are acknowledged (and committed), none.
            #expect(await transport.backlog() == [ConsumerBacklog(group: group, topic: "relay.jobs.demo", messages: 5)])
            try await subscription.acknowledge(first)
            for _ in 1..<5 { try await subscription.acknowledge(try #require(try await subscription.next())) }
            #expect(
                await waitFor {
                    await transport.backlog() == [ConsumerBacklog(group: group, topic: "relay.jobs.demo", messages: 0)]
                })
            await subscription.close()
        }
        await transport.close()
    }

    // MARK: - Helpers

    /// Runs an embedded pipeline over `workflows` (file name → text) with its HTTP server on a free port.
    private func withEmbeddedPipeline(
        workflows: [String: String], _ body: (EmbeddedPipeline, Int) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-metrics-\(UUID())")
        let folder = directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in workflows {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let project = try Project.load(directory: directory.path, native: try NativePlugins.all())
        var configuration = EmbeddedPipeline.Configuration()
        configuration.port = 0
        configuration.printRuns = false
        configuration.reloadInterval = .zero
        let pipeline = try EmbeddedPipeline(project: project, configuration: configuration)
        let ports = AsyncStream<Int>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run { ports.continuation.yield($0) } }
            defer { group.cancelAll() }
            var iterator = ports.stream.makeAsyncIterator()
            try await body(pipeline, try #require(await iterator.next()))
        }
    }

    /// Runs the pipeline HTTP server alone (no trigger host) on a free port.
    private func withHTTP(metrics: PipelineMetrics, readiness: PipelineReadiness, _ body: (Int) async throws -> Void)
        async throws
    {
        let ports = AsyncStream<Int>.makeStream()
        let app = PipelineHTTP.application(
            host: "127.0.0.1", port: 0, serverName: "test", metrics: metrics, readiness: readiness, triggers: nil,
            logger: Logger(label: "test")
        ) { ports.continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var iterator = ports.stream.makeAsyncIterator()
            try await body(try #require(await iterator.next()))
        }
    }
}

/// A GET over a real socket: the status and the body as text.
enum HTTPText {
    static func get(port: Int, path: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
