import Foundation
import Logging
import RelayCore
import RelayEngine
import RelayPlugins
import RelayPostgres
import RelaySpec
import RelayStore
import RelayTransport

/// `relay bench`: events through a workflow of trivial native steps, on the embedded bus or on Kafka. Publishes
/// the events, waits until every run has finished, reads the figures from the run store and prints them; the last
/// line reads `runs/s=… steps/s=… p50_ms=… p99_ms=…`.
public struct PipelineBench: Sendable {
    public struct Configuration: Sendable {
        /// Events (each starts one run).
        public var events = 10000
        /// Steps per run.
        public var steps = 3
        /// Jobs a worker runs at once.
        public var concurrency = 8
        /// Steps that wait this many seconds each (the native sleep plugin) instead of trivial ones; 0: trivial.
        public var sleep = 0
        /// Instead of a chain: one `for_each` step over this many trivial items per run (every item at once, unless
        /// `itemConcurrency`).
        public var fanOut: Int?
        /// The `for_each` step's concurrency; nil: `fanOut` (every item at once).
        public var itemConcurrency: Int?
        /// Where to put the database; nil: a temporary directory, removed afterwards.
        public var directory: String?
        /// Run on Kafka; nil: on the embedded bus.
        public var kafka: Kafka?
        /// One run at a time, this many, through the webhook's path (`SequentialBench`) instead of a burst.
        public var sequential: Int?
        /// On the embedded bus: record every statement of the burst and replay them afterwards on a new file, by
        /// SQLite alone (`SQLiteStatementLog`): what the burst's writes cost without Relay around them.
        public var sqliteAlone = false
        public init() {}
    }

    /// `relay bench --brokers`: the dispatcher in this process, `workers` `relay worker` processes.
    public struct Kafka: Sendable {
        public var bootstrapServers: [String]
        /// librdkafka properties, for this process and the workers.
        public var properties: [String: String] = [:]
        /// Worker processes.
        public var workers = 1
        /// Partitions of the bench's topics (bounds how many workers share the jobs).
        public var partitions = 6
        /// A PostgreSQL server for the run store (the bench makes a fresh database on it and drops it afterwards);
        /// nil: a SQLite file.
        public var store: String?
        /// Dispatchers in this process, each its own Kafka client in the dispatchers' group (more than one needs
        /// `store`).
        public var dispatchers = 1
        public init(bootstrapServers: [String]) { self.bootstrapServers = bootstrapServers }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    public func run() async throws {
        let directory =
            configuration.directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(UUID().uuidString)").path
        defer { if configuration.directory == nil { try? FileManager.default.removeItem(atPath: directory) } }
        print(Calibration.line())
        if let sequential = configuration.sequential, configuration.kafka == nil {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try await SequentialBench(runs: sequential, steps: configuration.steps, directory: directory).run()
            return
        }
        let yaml = workflowYAML()
        let workflow = try WorkflowDecoder.decode(yaml: yaml, file: "bench.yaml")
        try FileManager.default.createDirectory(atPath: directory + "/workflows", withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/workflows/bench.yaml", atomically: true, encoding: .utf8)
        let database = try SQLiteDatabase(path: (directory as NSString).appendingPathComponent("relay.sqlite"))
        let instance = (workflow.trigger?.instanceID ?? "")
        let items = JSONValue.array((0..<(configuration.fanOut ?? 0)).map(JSONValue.int))
        let messages = (0..<(configuration.sequential ?? configuration.events)).map { n in
            TriggerEvent(
                id: "bench-\(n)", instance: instance, output: ["n": .int(n), "items": items],
                time: Date().timeIntervalSince1970
            ).message
        }
        let catalog = PluginCatalog(native: try NativePlugins.all())

        if let kafka = configuration.kafka {
            // The run store on a fresh PostgreSQL database (migrated, dropped afterwards), or in the SQLite file.
            let scratch = try kafka.store.map { try PostgresScratchDatabase(server: $0, prefix: "relay_bench") }
            defer { try? scratch?.drop() }
            let database: any SQLDatabase = scratch?.database ?? database
            if let scratch {
                try SQLRunStore.migrate(scratch.database)
                print("run store: PostgreSQL, a fresh database \(scratch.database.location)")
            }
            let measurement = try await KafkaBench(
                kafka: kafka, concurrency: configuration.concurrency, directory: directory, workflow: workflow,
                catalog: catalog, plugin: configuration.sleep > 0 ? "sleep" : "type_converter", database: database
            ).run(messages, oneAtATime: configuration.sequential != nil)
            let store = SQLRunStore(readingFrom: database)
            if configuration.sequential != nil {
                try await reportOneAtATime(measurement, kafka: kafka, store: store)
            } else {
                try await report(measurement, store: store)
            }
            return
        }
        let log = configuration.sqliteAlone ? SQLiteStatementLog() : nil
        database.record(into: log)
        let measurement = try await Self.embedded(
            messages, workflow: workflow, catalog: catalog, database: database, concurrency: configuration.concurrency,
            log: log)
        database.record(into: nil)
        try await report(measurement, store: SQLRunStore(readingFrom: database))
        if let log {
            let steps = Double(configuration.events * (configuration.fanOut ?? configuration.steps))
            let replayed = try log.replay(into: (directory as NSString).appendingPathComponent("replay.sqlite"))
            print(
                String(
                    format: "sqlite_alone_per_step: us=%.1f cpu_us=%.1f statements=%.1f transactions=%.2f"
                        + " steps/s=%.0f (the burst's statements, replayed on a new file by SQLite alone;"
                        + " this run's own figures include recording them)",
                    replayed.seconds * 1e6 / steps, replayed.cpuSeconds * 1e6 / steps,
                    Double(replayed.statements) / steps, Double(replayed.transactions) / steps,
                    steps / replayed.seconds))
            // Where SQLite's time goes: the statements that took most of it, per step of the burst.
            for statement in replayed.byStatement.prefix(8) {
                let sql = statement.sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                print(
                    String(
                        format: "sqlite_alone_statement: us_per_step=%.2f share=%.0f%% per_step=%.3f sql=%@",
                        statement.seconds * 1e6 / steps, 100 * statement.seconds / replayed.seconds,
                        Double(statement.count) / steps, String(sql.prefix(90))))
            }
        }
    }

    /// The benchmark's workflow: `steps` trivial type conversions chained, or `steps` sleeps; with `fanOut`, one
    /// for_each step of trivial type conversions over the event's items.
    func workflowYAML() -> String {
        var yaml = "name: bench\ntrigger: {plugin: webhook, trigger: webhook, input: {path: bench}}\nsteps:\n"
        if let fanOut = configuration.fanOut {
            yaml +=
                "  - {id: s0, plugin: type_converter, action: integer_to_number, for_each: \"{{ trigger.items }}\", "
                + "concurrency: \(configuration.itemConcurrency ?? fanOut), input: {input: \"{{ item }}\"}}\n"
            return yaml
        }
        for index in 0..<configuration.steps {
            if configuration.sleep > 0 {
                yaml += "  - {id: s\(index), plugin: sleep, action: sleep, input: {interval: \(configuration.sleep)}}\n"
            } else {
                let input = index == 0 ? "\"{{ trigger.n }}\"" : "\"{{ steps.s\(index - 1).output.output }}\""
                yaml +=
                    "  - {id: s\(index), plugin: type_converter, action: integer_to_number, input: {input: \(input)}}\n"
            }
        }
        return yaml
    }

    /// When the events were published (after any warm-up) and when the last run finished.
    struct Measurement {
        var published: Double
        var elapsed: Duration
        /// One at a time: each run's time from publishing its event to seeing it finished, in ms, sorted.
        var latencies: [Double] = []
        /// CPU seconds this process used meanwhile.
        var cpu: Double = 0
        /// CPU seconds the worker processes used meanwhile (on Kafka; nil on the embedded bus, where the worker is in
        /// this process).
        var workersCPU: Double? = nil
        /// What the SQLite databases did meanwhile.
        var sqlite = SQLiteCounts(transactions: 0, reads: 0, statements: 0)
        /// Results decided outside the transaction and applied, and found stale (`RunSpeculation`), meanwhile.
        var decidedAhead = (applied: 0, stale: 0, newRuns: 0)
    }

    /// Publishes `messages` into a dispatcher and a worker running `workflow` in this process, on the embedded bus
    /// in `database`, and waits until every run has finished (`publishAndWait`); the services are stopped before
    /// it returns (the worker's warm plugin servers with them).
    static func embedded(
        _ messages: [BusMessage], workflow: Workflow, catalog: PluginCatalog,
        connections: ConnectionStore = ConnectionStore(), database: SQLiteDatabase, concurrency: Int,
        log: SQLiteStatementLog? = nil
    ) async throws -> Measurement {
        let bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(20))
        let store = try SQLRunStore(bus: bus)
        let metrics = PipelineMetrics()
        let services = PipelineAssembly(
            workflows: [workflow], catalog: catalog, connections: connections, transport: bus, metrics: metrics
        ).services(dispatcher: store, worker: .init(concurrency: concurrency))
        let task = Task { try? await services.run() }
        defer { task.cancel() }
        // Runs finished, as the dispatcher counts them once committed: read from its metrics, not the database
        // (counting the runs table twenty times a second would hold the database from the pipeline it measures), and
        // from a count, not the registry rendered and parsed (1 % of a burst's CPU).
        let finished: @Sendable () async throws -> Int = { metrics.runsFinished }
        let measurement = try await publishAndWait(
            messages, store: store, alreadyFinished: 0, finished: finished, log: log
        ) { try await bus.publish($0) }
        task.cancel()
        await task.value
        return measurement
    }

    /// Publishes in batches of 1,000, then waits until `messages.count` more runs have finished (`finished`: how
    /// many have, by default counted in the run store). Fails when no run finishes for 120 s, or when `check` throws
    /// (a worker process died).
    static func publishAndWait(
        _ messages: [BusMessage], store: any RunStore, alreadyFinished: Int,
        check: @Sendable () throws -> Void = {}, finished finishedNow: (@Sendable () async throws -> Int)? = nil,
        workersCPU: (@Sendable () -> Double)? = nil, log: SQLiteStatementLog? = nil,
        publish: ([BusMessage]) async throws -> Void
    ) async throws -> Measurement {
        let finishedNow = finishedNow ?? { try await finishedRuns(store) }
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = ProcessCPU.seconds()
        let workersStart = workersCPU?()
        // (What the log replays is timed over the same statements as the counts: from here to their end below.)
        log?.mark()
        let sqliteStart = SQLiteDatabase.counts
        let aheadStart = RunSpeculation.counts
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
            finished = try await finishedNow() - alreadyFinished
            if finished > lastProgress.count {
                lastProgress = (finished, clock.now)
            } else if clock.now - lastProgress.at > .seconds(120) {
                throw BenchError("bench: no run finished for 120 s (\(finished)/\(messages.count) finished)")
            }
            if clock.now - lastReport > .seconds(2) {
                print("… \(finished)/\(messages.count) runs finished")
                lastReport = clock.now
            }
        }
        let ahead = RunSpeculation.counts
        let sqlite = SQLiteDatabase.counts - sqliteStart
        log?.stop()
        return Measurement(
            published: published, elapsed: clock.now - start, cpu: ProcessCPU.seconds() - cpuStart,
            workersCPU: workersStart.flatMap { start in workersCPU.map { $0() - start } },
            sqlite: sqlite,
            decidedAhead: (
                ahead.applied - aheadStart.applied, ahead.stale - aheadStart.stale, ahead.newRuns - aheadStart.newRuns
            ))
    }

    static func finishedRuns(_ store: any RunStore) async throws -> Int {
        try await store.runCounts().filter { $0.key.isFinished }.values.reduce(0, +)
    }

    /// One event at a time: published once the run of the one before has finished in the run store (read every
    /// millisecond, the poll's granularity counted in), each run's latency from publishing its event to seeing its
    /// end.
    static func publishOneAtATime(
        _ messages: [BusMessage], store: any RunStore, alreadyFinished: Int,
        check: @Sendable () throws -> Void = {},
        publish: ([BusMessage]) async throws -> Void
    ) async throws -> Measurement {
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = ProcessCPU.seconds()
        let published = Date().timeIntervalSince1970
        var latencies: [Double] = []
        for (index, message) in messages.enumerated() {
            let sent = clock.now
            try await publish([message])
            while try await finishedRuns(store) - alreadyFinished <= index {
                try check()
                guard clock.now - sent < .seconds(120) else {
                    throw BenchError("bench: run \(index + 1) of \(messages.count) did not finish within 120 s")
                }
                try await Task.sleep(for: .milliseconds(1))
            }
            let elapsed = clock.now - sent
            latencies.append(BenchFigures.milliseconds(elapsed))
        }
        return Measurement(
            published: published, elapsed: clock.now - start, latencies: latencies.sorted(),
            cpu: ProcessCPU.seconds() - cpuStart)
    }

    private func reportOneAtATime(_ measurement: Measurement, kafka: Kafka, store: any RunStore) async throws {
        let (runs, steps) = (measurement.latencies.count, configuration.steps)
        let failed = try await store.runCounts().filter { $0.key != .succeeded }.values.reduce(0, +)
        let seconds = BenchFigures.seconds(measurement.elapsed)
        print(
            "bus=kafka workers=\(kafka.workers) partitions=\(kafka.partitions) sequential=\(runs) steps=\(steps)"
                + String(
                    format: " seconds=%.2f cpu_us_per_step=%.0f", seconds, measurement.cpu * 1e6 / Double(runs * steps))
                + String(format: " peak_rss_mib=%.0f", ProcessMemory.peakMiB) + " failed_runs=\(failed)")
        print(BenchFigures.sequentialLine(latencies: measurement.latencies, runs: runs, steps: steps, seconds: seconds))
    }

    private func report(_ measurement: Measurement, store: any RunStore) async throws {
        let (events, sleep) = (configuration.events, configuration.sleep)
        // Steps per run: the chain's length, or the items of the fan-out.
        let steps = configuration.fanOut ?? configuration.steps
        let shape =
            configuration.fanOut.map { "fan_out=\($0) item_concurrency=\(configuration.itemConcurrency ?? $0)" }
            ?? "steps=\(steps)"
        // Runs of the measured events only (a warm-up run finished before they were published).
        let latencies = try await store.runs(limit: Int.max).compactMap { run -> Double? in
            guard let finished = run.finishedAt, finished >= measurement.published else { return nil }
            return (finished - measurement.published) * 1000
        }.sorted()
        let failed = try await store.runCounts().filter { $0.key != .succeeded }.values.reduce(0, +)
        let seconds = BenchFigures.seconds(measurement.elapsed)
        func percentile(_ p: Double) -> Double { BenchFigures.percentile(latencies, p) }
        let mode =
            configuration.kafka.map { "bus=kafka workers=\($0.workers) partitions=\($0.partitions)" } ?? "bus=embedded"
        let sleeping = sleep > 0 ? " sleep=\(sleep)s" : ""
        // (On Kafka: the dispatcher's, in this process, with its outbox.)
        print(measurement.sqlite.perStep(Double(events * steps)))
        print(
            String(
                format: "decided_ahead_per_step: applied=%.2f stale=%.2f new_runs_per_event=%.2f",
                Double(measurement.decidedAhead.applied) / Double(events * steps),
                Double(measurement.decidedAhead.stale) / Double(events * steps),
                Double(measurement.decidedAhead.newRuns) / Double(events)))
        print(
            "\(mode) events=\(events) \(shape)\(sleeping) concurrency=\(configuration.concurrency)"
                + String(
                    format: " seconds=%.2f cpu_us_per_step=%.0f", seconds,
                    measurement.cpu * 1e6 / Double(events * steps))
                + (measurement.workersCPU.map {
                    String(format: " workers_cpu_us_per_step=%.0f", $0 * 1e6 / Double(events * steps))
                } ?? "")
                + String(format: " peak_rss_mib=%.0f", ProcessMemory.peakMiB) + " failed_runs=\(failed)")
        print(
            String(
                format: "runs/s=%.0f steps/s=%.0f p50_ms=%.0f p99_ms=%.0f",
                Double(events) / seconds, Double(events * steps) / seconds, percentile(0.5), percentile(0.99)))
    }
}

/// A benchmark that could not run or finish; printed as its message.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
