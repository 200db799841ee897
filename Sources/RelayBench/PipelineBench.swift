import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayKafka
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTransport

/// `relay bench`: events through a workflow of trivial native steps, on the embedded bus or on Kafka.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the pipeline: N events through a workflow of K trivial native steps, embedded or on Kafka.",
        discussion: """
            Steps are trivial native ones (type_converter), or with --sleep S steps that wait S seconds (the native \
            sleep plugin), which shows what more workers add when steps wait on something. \
            Embedded (default): publishes N events at once into a fresh SQLite file and runs the dispatcher and a \
            worker in this process. With --brokers: the dispatcher runs in this process on Kafka (its run store in \
            a fresh SQLite file) and --workers `relay worker` processes run the jobs; every topic and group is \
            under a fresh prefix (bench-<id>.), so runs never mix. Either way it waits until every run has \
            finished and prints throughput and latency (event published → run finished). \
            The last line reads runs/s=… steps/s=… p50_ms=… p99_ms=….
            """
    )

    @Option(help: "Events (each starts one run).") var events = 10000
    @Option(help: "Steps per run.") var steps = 3
    @Option(help: "Jobs a worker runs at once.") var concurrency = 8
    @Option(
        help:
            "Steps that wait this many seconds each (the native sleep plugin: a step that waits on an API, using no CPU) instead of trivial ones."
    )
    var sleep = 0
    @Option(help: "Where to put the database (default: a temporary directory, removed afterwards).") var dir: String?
    @Option(
        help: "Run on Kafka: bootstrap servers HOST:PORT[,…] (not read from RELAY_BROKERS: the default is embedded).")
    var brokers: String?
    @Option(help: "With --brokers: worker processes.") var workers = 1
    @Option(help: "With --brokers: partitions of the bench's topics (bounds how many workers share the jobs).")
    var partitions = 6
    @Option(
        name: .customLong("kafka-property"), parsing: .singleValue,
        help: ArgumentHelp("With --brokers: a librdkafka property KEY=VALUE, repeatable.", valueName: "KEY=VALUE"))
    var properties: [String] = []

    func validate() throws {
        guard events > 0, steps > 0, concurrency > 0 else {
            throw ValidationError("--events, --steps and --concurrency must be positive")
        }
        guard sleep >= 0 else { throw ValidationError("--sleep must not be negative") }
        guard workers > 0, partitions > 0 else { throw ValidationError("--workers and --partitions must be positive") }
        if brokers == nil && workers != 1 {
            throw ValidationError("--workers needs --brokers (the embedded bench runs one worker in-process)")
        }
    }

    func run() async throws {
        let directory =
            dir
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(UUID().uuidString)").path
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: directory) } }
        var yaml = "name: bench\ntrigger: {plugin: webhook, trigger: webhook, input: {path: bench}}\nsteps:\n"
        for index in 0..<steps {
            if sleep > 0 {
                yaml += "  - {id: s\(index), plugin: sleep, action: sleep, input: {interval: \(sleep)}}\n"
            } else {
                let input = index == 0 ? "\"{{ trigger.n }}\"" : "\"{{ steps.s\(index - 1).output.output }}\""
                yaml +=
                    "  - {id: s\(index), plugin: type_converter, action: integer_to_number, input: {input: \(input)}}\n"
            }
        }
        let workflow = try CLIFailure.wrap { try WorkflowDecoder.decode(yaml: yaml, file: "bench.yaml") }
        try FileManager.default.createDirectory(atPath: directory + "/workflows", withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/workflows/bench.yaml", atomically: true, encoding: .utf8)
        let database = try SQLiteDatabase(path: (directory as NSString).appendingPathComponent("relay.sqlite"))
        let instance = workflow.trigger.instanceID
        let messages = (0..<events).map { n in
            TriggerEvent(id: "bench-\(n)", instance: instance, output: ["n": .int(n)]).message
        }

        let measurement: Measurement
        if let brokers {
            measurement = try await KafkaBench(
                brokers: brokers, properties: try KafkaOptions.parse(properties), workers: workers,
                partitions: partitions,
                concurrency: concurrency, directory: directory, workflow: workflow,
                plugin: sleep > 0 ? "sleep" : "type_converter",
                database: database
            ).run(messages)
        } else {
            measurement = try await embedded(messages, workflow: workflow, database: database)
        }
        try await report(measurement, store: SQLiteRunStore(readingFrom: database))
    }

    /// When the events were published (after any warm-up) and when the last run finished.
    struct Measurement {
        var published: Double
        var elapsed: Duration
    }

    private func embedded(_ messages: [BusMessage], workflow: Workflow, database: SQLiteDatabase) async throws
        -> Measurement
    {
        let bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(20))
        let store = try SQLiteRunStore(bus: bus)
        let dispatcher = Dispatcher(bus: bus, store: store, workflows: [workflow])
        let worker = Worker(
            bus: bus, catalog: PluginCatalog(native: try NativePlugins.all()), connections: ConnectionStore(),
            concurrency: concurrency)
        let tasks = [Task { try? await dispatcher.run() }, Task { try? await worker.run() }]
        defer { for task in tasks { task.cancel() } }
        let measurement = try await Self.publishAndWait(messages, store: store, alreadyFinished: 0) {
            try await bus.publish($0)
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        return measurement
    }

    /// Publishes in batches of 1,000, then waits until `messages.count` more runs have finished. Fails when no run
    /// finishes for 120 s, or when `check` throws (a worker process died).
    static func publishAndWait(
        _ messages: [BusMessage], store: any RunStore, alreadyFinished: Int,
        check: @Sendable () throws -> Void = {},
        publish: ([BusMessage]) async throws -> Void
    ) async throws -> Measurement {
        let clock = ContinuousClock()
        let start = clock.now
        let published = Date().timeIntervalSince1970
        var index = 0
        while index < messages.count {
            let end = min(index + 1000, messages.count)
            try await publish(Array(messages[index..<end]))
            index = end
        }
        var finished = 0
        var lastReport = clock.now
        var lastProgress = (count: 0, at: clock.now)
        while finished < messages.count {
            try await Task.sleep(for: .milliseconds(50))
            try check()
            finished = try await finishedRuns(store) - alreadyFinished
            if finished > lastProgress.count {
                lastProgress = (finished, clock.now)
            } else if clock.now - lastProgress.at > .seconds(120) {
                throw CLIFailure("bench: no run finished for 120 s (\(finished)/\(messages.count) finished)")
            }
            if clock.now - lastReport > .seconds(2) {
                print("… \(finished)/\(messages.count) runs finished")
                lastReport = clock.now
            }
        }
        return Measurement(published: published, elapsed: clock.now - start)
    }

    static func finishedRuns(_ store: any RunStore) async throws -> Int {
        try await store.runCounts().filter { $0.key.isFinished }.values.reduce(0, +)
    }

    private func report(_ measurement: Measurement, store: any RunStore) async throws {
        // Runs of the measured events only (a warm-up run finished before they were published).
        let latencies = try await store.runs(limit: Int.max).compactMap { run -> Double? in
            guard let finished = run.finishedAt, finished >= measurement.published else { return nil }
            return (finished - measurement.published) * 1000
        }.sorted()
        let failed = try await store.runCounts().filter { $0.key != .succeeded }.values.reduce(0, +)
        let seconds =
            Double(measurement.elapsed.components.seconds) + Double(measurement.elapsed.components.attoseconds) / 1e18
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
        let mode = brokers == nil ? "bus=embedded" : "bus=kafka workers=\(workers) partitions=\(partitions)"
        print(
            "\(mode) events=\(events) steps=\(steps)\(sleep > 0 ? " sleep=\(sleep)s" : "") concurrency=\(concurrency) seconds=\(String(format: "%.2f", seconds)) failed_runs=\(failed)"
        )
        print(
            String(
                format: "runs/s=%.0f steps/s=%.0f p50_ms=%.0f p99_ms=%.0f",
                Double(events) / seconds, Double(events * steps) / seconds, percentile(0.5), percentile(0.99)))
    }
}
