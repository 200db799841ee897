import Foundation
import RelayCore
import RelayKafka
import RelayPlugins
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// One run on the test broker as `relay dispatcher` and `relay worker` make it, in this process: `KafkaTransport`
/// under unique topic and group names, the run store in a fresh SQLite file with its outbox publishing to Kafka.
enum KafkaRunHarness {
    /// Publishes one event of `workflow`'s trigger and waits (up to 180 s) for its run to finish; returns whether it
    /// did, and the run as the store holds it. `services` builds what runs (a dispatcher over the store, and a worker
    /// or not) from an assembly over the transport.
    static func run(
        _ workflow: Workflow, event output: JSONValue, prefix: String,
        services: (PipelineAssembly, any RunStore) -> PipelineServices
    ) async throws -> (finished: Bool, run: RunDetail?) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(prefix)-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [EngineTestBroker.address!]))
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.defaultPartitions = 2
        configuration.topicPrefix = "\(prefix)-\(UUID().uuidString.prefix(8))."
        let transport = try KafkaTransport(configuration: configuration)
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let store = try SQLiteRunStore(database: database, publishingTo: transport)
        let catalog = PluginCatalog(native: try NativePlugins.all())
        let running = Task {
            [
                services = services(
                    PipelineAssembly(workflows: [workflow], catalog: catalog, transport: transport), store)
            ]
            in try? await services.run()
        }

        try await transport.publish([
            TriggerEvent(id: "\(prefix)-1", instance: workflow.trigger?.instanceID ?? "", output: output).message
        ])
        let finished = await waitFor(seconds: 180) {
            (try? await store.runs(limit: 1).first?.status.isFinished) == true
        }
        var run: RunDetail?
        if let summary = try await store.runs(limit: 1).first { run = try await store.run(id: summary.id) }
        running.cancel()
        await running.value
        await transport.close()
        return (finished, run)
    }
}
