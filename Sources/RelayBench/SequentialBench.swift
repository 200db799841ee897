import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTransport

/// `relay bench --sequential N`: one run at a time through the path a webhook request takes once its HTTP body is
/// read (the webhook trigger's inbox, the trigger host publishing the event, the dispatcher, the worker, the
/// dispatcher again, the run's notice on `relay.runs`), on the embedded bus. Each run's latency is from handing the
/// request to the inbox to receiving the run's notice. Prints p50/p90/p99 with 0.01 ms precision.
struct SequentialBench {
    var runs: Int
    var steps: Int
    var directory: String
    var warmUp = 50

    /// The workflow: a webhook trigger, then `steps` trivial type conversions chained, the first from the request's
    /// JSON body.
    func workflowYAML() -> String {
        var yaml = "name: bench\ntrigger: {plugin: webhook, trigger: webhook, input: {path: bench}}\nsteps:\n"
        for index in 0..<steps {
            let input = index == 0 ? "\"{{ trigger.json.n }}\"" : "\"{{ steps.s\(index - 1).output.output }}\""
            yaml += "  - {id: s\(index), plugin: type_converter, action: integer_to_number, input: {input: \(input)}}\n"
        }
        return yaml
    }

    func run() async throws {
        let workflow = try WorkflowDecoder.decode(yaml: workflowYAML(), file: "bench.yaml")
        let database = try SQLiteDatabase(path: (directory as NSString).appendingPathComponent("relay.sqlite"))
        let bus = try EmbeddedBus(database: database)
        let store = try SQLRunStore(bus: bus)
        let services = PipelineAssembly(
            workflows: [workflow], catalog: PluginCatalog(native: try NativePlugins.all()), transport: bus
        ).services(
            dispatcher: store, worker: .init(concurrency: 8), triggers: try SQLTriggerStateStore(database: database))
        guard let triggers = services.triggers else { throw BenchError("bench: no trigger host") }
        let task = Task { try? await services.run() }
        defer { task.cancel() }
        let notices = try await bus.subscribe(topic: Topics.runs, group: "bench.sequential")

        let clock = ContinuousClock()
        let started = clock.now
        var inbox = triggers.webhooks.inbox(for: "bench")
        while inbox == nil {
            guard clock.now - started < .seconds(30) else { throw BenchError("bench: the webhook did not start") }
            try await Task.sleep(for: .milliseconds(5))
            inbox = triggers.webhooks.inbox(for: "bench")
        }
        var latencies: [Double] = []
        latencies.reserveCapacity(runs)
        var failed = 0
        var measuredStart = clock.now
        var cpuStart = ProcessCPU.seconds()
        var sqliteStart = SQLiteDatabase.counts
        for n in 0..<(warmUp + runs) {
            let start = clock.now
            if n == warmUp {
                measuredStart = start
                cpuStart = ProcessCPU.seconds()
                sqliteStart = SQLiteDatabase.counts
            }
            let accepted = await inbox!.deliver(
                method: "POST", path: "/webhooks/bench", headers: ["content-type": "application/json"], query: [:],
                body: "{\"n\": \(n)}")
            guard accepted else { throw BenchError("bench: the webhook refused request \(n)") }
            guard let delivery = try await notices.next() else { throw BenchError("bench: the notices ended") }
            let elapsed = clock.now - start
            let notice = try RunNotice(bytes: delivery.message.value)
            if notice.status != .succeeded { failed += 1 }
            try await notices.acknowledge(delivery)
            if n >= warmUp {
                latencies.append(BenchFigures.milliseconds(elapsed))
            }
        }
        let total = clock.now - measuredStart
        let cpu = ProcessCPU.seconds() - cpuStart
        let sqlite = SQLiteDatabase.counts - sqliteStart
        task.cancel()
        await task.value
        latencies.sort()
        let seconds = BenchFigures.seconds(total)
        print(sqlite.perStep(Double(runs * steps)))
        print(
            "bus=embedded sequential=\(runs) warm_up=\(warmUp) steps=\(steps)"
                + String(format: " seconds=%.2f cpu_us_per_step=%.0f", seconds, cpu * 1e6 / Double(runs * steps))
                + String(format: " peak_rss_mib=%.0f", ProcessMemory.peakMiB) + " failed_runs=\(failed)")
        print(BenchFigures.sequentialLine(latencies: latencies, runs: runs, steps: steps, seconds: seconds))
    }
}
