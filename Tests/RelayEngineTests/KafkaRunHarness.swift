import Foundation
import RelayCore
import RelayKafka
import RelayPlugins
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// Runs on the test broker as `relay dispatcher` and `relay worker` make them, in this process: `KafkaTransport`
/// under unique topic and group names, the run store in a fresh SQLite file with its outbox publishing to Kafka.
/// `run` publishes one event and waits for its run; `withPipeline` lets a test drive several runs itself.
enum KafkaRunHarness {
    /// Publishes one event of `workflow`'s trigger and waits (up to 180 s) for its run to finish; returns whether it
    /// did, and the run as the store holds it. `services` builds what runs (a dispatcher over the store, and a worker
    /// or not) from an assembly over the transport.
    static func run(
        _ workflow: Workflow, event output: JSONValue, prefix: String,
        services: (PipelineAssembly, any RunStore) -> PipelineServices
    ) async throws -> (finished: Bool, run: RunDetail?) {
        try await withPipeline([workflow], prefix: prefix, services: services) { pipeline in
            try await pipeline.publish(output, eventID: "\(prefix)-1")
            let finished = await waitFor(seconds: 180) {
                (try? await pipeline.store.runs(limit: 1).first?.status.isFinished) == true
            }
            var run: RunDetail?
            if let summary = try await pipeline.store.runs(limit: 1).first {
                run = try await pipeline.store.run(id: summary.id)
            }
            return (finished, run)
        }
    }

    /// Runs `services` (built from an assembly over `workflows`, `catalog` or the native plugins, and the transport)
    /// on the test broker while `body` publishes events and run requests and polls the store; stops them, closes
    /// the transport and removes the store when `body` returns or throws.
    static func withPipeline<T>(
        _ workflows: [Workflow], catalog: PluginCatalog? = nil, prefix: String,
        services: (PipelineAssembly, any RunStore) -> PipelineServices,
        _ body: (KafkaTestPipeline) async throws -> T
    ) async throws -> T {
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
        let store = try SQLRunStore(database: database, publishingTo: transport)
        let catalog = try catalog ?? PluginCatalog(native: try NativePlugins.all())
        let running = Task {
            [
                services = services(
                    PipelineAssembly(workflows: workflows, catalog: catalog, transport: transport), store)
            ]
            in try? await services.run()
        }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(
                try await body(KafkaTestPipeline(transport: transport, store: store, workflows: workflows)))
        } catch {
            outcome = .failure(error)
        }
        running.cancel()
        await running.value
        await transport.close()
        return try outcome.get()
    }
}

/// What a test started with `KafkaRunHarness.withPipeline` drives: the Kafka transport it publishes on, and the run
/// store it reads.
struct KafkaTestPipeline: Sendable {
    let transport: KafkaTransport
    let store: SQLRunStore
    let workflows: [Workflow]

    /// Publishes an event of the trigger of `workflows[workflow]`.
    func publish(_ output: JSONValue, workflow: Int = 0, eventID: String = UUID().uuidString) async throws {
        let instance = workflows[workflow].trigger?.instanceID ?? ""
        try await transport.publish([TriggerEvent(id: eventID, instance: instance, output: output).message])
    }

    /// Sends a request about a run (cancel, resume) on `relay.control`, as `relay runs cancel|resume` does.
    func control(_ request: RunControl) async throws {
        try await transport.publish([request.message])
    }

    /// Waits (up to 180 s) until a run of `workflow` for which `condition` holds exists; returns it, or nil.
    func waitForRun(of workflow: String, _ condition: @escaping (RunDetail) -> Bool) async -> RunDetail? {
        var found: RunDetail?
        _ = await waitFor(seconds: 180) {
            for summary in (try? await store.runs(limit: 10_000)) ?? [] where summary.workflow == workflow {
                if let run = try? await store.run(id: summary.id), condition(run) {
                    found = run
                    return true
                }
            }
            return false
        }
        return found
    }

    /// Waits (up to 180 s) until at least `count` runs of `workflow` have ended; returns them, oldest first (fewer
    /// when they did not all end).
    func finishedRuns(of workflow: String, _ count: Int = 1) async -> [RunDetail] {
        var ended: [RunSummary] = []
        _ = await waitFor(seconds: 180) {
            ended =
                (try? await store.runs(limit: 10_000).filter { $0.workflow == workflow && $0.status.isFinished }) ?? []
            return ended.count >= count
        }
        var runs: [RunDetail] = []
        for summary in ended.reversed() {
            if let run = try? await store.run(id: summary.id) { runs.append(run) }
        }
        return runs
    }
}
