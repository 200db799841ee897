import Foundation
import RelayCore
import RelayKafka
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A job deadline on the test broker: the dispatcher on `KafkaTransport` in this process, its run store in SQLite
/// with the outbox (as `relay dispatcher` runs it), and no worker for the step's plugin.
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaDeadlineTests {
    @Test(.timeLimit(.minutes(4))) func aJobNoWorkerTakesFailsByItsDeadline() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-kdeadline-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: kdeadline
                trigger: {plugin: webhook, trigger: webhook, input: {path: kdeadline}}
                steps:
                  - {id: encode, plugin: base64, action: encode, input: {content: hi}, timeout: 500ms}
                """, file: "kdeadline.yaml")
        let catalog = PluginCatalog(native: try NativePlugins.all())
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [EngineTestBroker.address!]))
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.defaultPartitions = 2
        configuration.topicPrefix = "deadline-\(UUID().uuidString.prefix(8))."
        let transport = try KafkaTransport(configuration: configuration)
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let store = try SQLiteRunStore(database: database, publishingTo: transport)
        let metrics = PipelineMetrics()
        var assembly = PipelineAssembly(workflows: [workflow], catalog: catalog, transport: transport, metrics: metrics)
        assembly.dispatcherConfiguration.deadlineGrace = .seconds(1)
        // A dispatcher and no worker: nobody consumes relay.jobs.base64.
        let services = assembly.services(dispatcher: store)
        let running = Task { try? await services.run() }

        try await transport.publish([
            TriggerEvent(id: "kdeadline-1", instance: workflow.trigger.instanceID, output: [:]).message
        ])
        let finished = await waitFor(seconds: 180) {
            (try? await store.runs(limit: 1).first?.status.isFinished) == true
        }
        let summary = try await store.runs(limit: 1).first
        var run: RunDetail?
        if let summary { run = try await store.run(id: summary.id) }
        running.cancel()
        await running.value
        await transport.close()

        #expect(finished, "the run finished")
        let detail = try #require(run)
        let lost = "no result within 500 ms + 1 s grace: no worker took the job, or it was lost (relay.jobs.base64)"
        #expect(detail.summary.status == .failed)
        #expect(detail.summary.error == "step encode failed: \(lost)")
        #expect(detail.steps.map(\.status) == [.failed])
        #expect(detail.steps.first?.error == lost)
        #expect(metrics.stepsFailedByDeadline.count == 1)
    }
}
