import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySpec
import RelayTransport

/// `relay bench`: events through a workflow of trivial native steps on the embedded bus.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the pipeline: N events through a workflow of K trivial native steps on the embedded bus.",
        discussion: """
            Publishes N events at once into a fresh SQLite file, runs the dispatcher and a worker in this process \
            until every run has finished, and prints throughput and latency (event published → run finished). \
            The last line reads runs/s=… steps/s=… p50_ms=… p99_ms=….
            """
    )

    @Option(help: "Events (each starts one run).") var events = 10000
    @Option(help: "Steps per run.") var steps = 3
    @Option(help: "Jobs the worker runs at once.") var concurrency = 8
    @Option(help: "Where to put the database (default: a temporary directory, removed afterwards).") var dir: String?

    func run() async throws {
        guard events > 0, steps > 0 else { throw ValidationError("--events and --steps must be positive") }
        let directory = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(UUID().uuidString)").path
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: directory) } }
        var yaml = "name: bench\ntrigger: {plugin: webhook, trigger: webhook, input: {path: bench}}\nsteps:\n"
        for index in 0..<steps {
            let input = index == 0 ? "\"{{ trigger.n }}\"" : "\"{{ steps.s\(index - 1).output.output }}\""
            yaml += "  - {id: s\(index), plugin: type_converter, action: integer_to_number, input: {input: \(input)}}\n"
        }
        let workflow = try CLIFailure.wrap { try WorkflowDecoder.decode(yaml: yaml, file: "bench.yaml") }
        let database = try SQLiteDatabase(path: (directory as NSString).appendingPathComponent("relay.sqlite"))
        let bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(20))
        try RunStore.createTables(database)
        let catalog = PluginCatalog(native: try NativePlugins.all())
        let instance = workflow.trigger.instanceID

        let dispatcher = Dispatcher(bus: bus, workflows: [workflow])
        let worker = Worker(bus: bus, catalog: catalog, connections: ConnectionStore(), concurrency: concurrency)
        let tasks = [Task { try? await dispatcher.run() }, Task { try? await worker.run() }]

        let clock = ContinuousClock()
        let start = clock.now
        let published = Date().timeIntervalSince1970
        var batch: [BusMessage] = []
        for n in 0..<events {
            batch.append(BusMessage(topic: Topics.events, key: instance, json: [
                "eventId": .string("bench-\(n)"), "instance": .string(instance), "output": ["n": .int(n)],
            ]))
            if batch.count == 1000 {
                try await bus.publish(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try await bus.publish(batch)
        var finished = 0
        var lastReport = clock.now
        while finished < events {
            try await Task.sleep(for: .milliseconds(50))
            finished = try await database.read { db in Int(try db.query("SELECT COUNT(*) FROM runs WHERE status != 'running'").first?.first?.int ?? 0) }
            if clock.now - lastReport > .seconds(2) {
                print("… \(finished)/\(events) runs finished")
                lastReport = clock.now
            }
        }
        let elapsed = clock.now - start
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        let latencies = try await database.read { db in
            try db.query("SELECT finished_at FROM runs").compactMap { row -> Double? in
                if case .double(let d) = row[0] { return (d - published) * 1000 }
                return nil
            }
        }.sorted()
        let failed = try await database.read { db in Int(try db.query("SELECT COUNT(*) FROM runs WHERE status != 'succeeded'").first?.first?.int ?? 0) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print("events=\(events) steps=\(steps) concurrency=\(concurrency) seconds=\(String(format: "%.2f", seconds)) failed_runs=\(failed)")
        print(String(format: "runs/s=%.0f steps/s=%.0f p50_ms=%.0f p99_ms=%.0f",
                     Double(events) / seconds, Double(events * steps) / seconds, percentile(0.5), percentile(0.99)))
    }
}
