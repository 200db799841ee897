import ArgumentParser
import RelayBench
import RelayCore

/// `relay bench`: flags → `PipelineBench.Configuration` (RelayBench runs and measures).
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
            The last line reads runs/s=… steps/s=… p50_ms=… p99_ms=…. The first line is a calibration (a fixed \
            CPU-bound loop, in ms), so figures from different days can be compared.
            """
    )

    @Option(help: "Events (each starts one run).") var events = 10000
    @Option(help: "Steps per run.") var steps = 3
    @Option(help: "Jobs a worker runs at once.") var concurrency = 8
    @Option(
        help: """
            Steps that wait this many seconds each (the native sleep plugin: a step that waits on an API, using \
            no CPU) instead of trivial ones.
            """
    )
    var sleep = 0
    @Option(
        help: """
            Instead of a chain of --steps: one for_each step over this many trivial items per run (all of them at \
            once: concurrency N, unless --item-concurrency); steps/s counts items.
            """)
    var fanOut: Int?
    @Option(help: "With --fan-out: the for_each step's concurrency (default: the items, all at once).")
    var itemConcurrency: Int?
    @Option(
        help: """
            One run at a time, N of them, p50/p90/p99 in ms. Embedded: after 50 warm-up runs, through the webhook \
            trigger's path (a request handed to the webhook's inbox → the run's notice on relay.runs). With \
            --brokers: each event published once the run before has finished (the dispatcher in this process, the \
            workers as processes), from publishing it to its run's end in the run store.
            """
    )
    var sequential: Int?
    @Option(help: "Where to put the database (default: a temporary directory, removed afterwards).") var dir: String?
    @Flag(
        help: """
            Record the burst's SQLite statements and replay them afterwards on a new file by SQLite alone (prepared, \
            in the same transactions, on one thread): what the pipeline's writes cost without Relay around them \
            (sqlite_alone_per_step, against this run's sqlite_per_step held_us).
            """
    )
    var sqliteAlone = false
    @Option(
        help: "Run on Kafka: bootstrap servers HOST:PORT[,…] (not read from RELAY_BROKERS: the default is embedded).")
    var brokers: String?
    @Option(
        help: """
            With --brokers: the run store on PostgreSQL, postgres://user:password@host:port/db?sslmode=disable (a \
            fresh database is made on that server for the bench and dropped afterwards).
            """
    )
    var store: String?
    @Option(help: "With --brokers and --store: dispatchers in this process, sharing the run store.")
    var dispatchers = 1
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
        if let fanOut {
            guard (1...WorkflowLimits.mostItems).contains(fanOut) else {
                throw ValidationError("--fan-out must be from 1 to \(WorkflowLimits.mostItems)")
            }
            if let itemConcurrency, !(1...WorkflowLimits.mostConcurrency).contains(itemConcurrency) {
                throw ValidationError("--item-concurrency must be from 1 to \(WorkflowLimits.mostConcurrency)")
            }
            guard fanOut <= WorkflowLimits.mostConcurrency || itemConcurrency != nil else {
                throw ValidationError(
                    "--fan-out above \(WorkflowLimits.mostConcurrency) needs --item-concurrency (a step runs at most "
                        + "\(WorkflowLimits.mostConcurrency) items at once)")
            }
            guard sleep == 0 else { throw ValidationError("--fan-out and --sleep: one at a time") }
        } else if itemConcurrency != nil {
            throw ValidationError("--item-concurrency needs --fan-out")
        }
        if let sequential {
            guard sequential > 0 else { throw ValidationError("--sequential must be positive") }
            guard fanOut == nil, sleep == 0 else {
                throw ValidationError("--sequential runs a chain of trivial steps (no --fan-out, no --sleep)")
            }
        }
        guard workers > 0, partitions > 0 else { throw ValidationError("--workers and --partitions must be positive") }
        guard dispatchers > 0 else { throw ValidationError("--dispatchers must be positive") }
        if brokers == nil && (store != nil || dispatchers != 1) {
            throw ValidationError("--store and --dispatchers need --brokers (the embedded bench keeps SQLite)")
        }
        if dispatchers > 1 && store == nil {
            throw ValidationError("--dispatchers above 1 needs --store: several dispatchers share a PostgreSQL store")
        }
        if sqliteAlone && (brokers != nil || sequential != nil) {
            throw ValidationError(
                "--sqlite-alone replays a burst on the embedded bus: not with --brokers or --sequential")
        }
        if brokers == nil && workers != 1 {
            throw ValidationError("--workers needs --brokers (the embedded bench runs one worker in-process)")
        }
    }

    func run() async throws {
        var configuration = PipelineBench.Configuration()
        configuration.events = events
        configuration.steps = steps
        configuration.concurrency = concurrency
        configuration.sleep = sleep
        configuration.fanOut = fanOut
        configuration.itemConcurrency = itemConcurrency
        configuration.directory = dir
        configuration.sequential = sequential
        configuration.sqliteAlone = sqliteAlone
        if let brokers {
            var kafka = PipelineBench.Kafka(bootstrapServers: KafkaOptions.servers(brokers))
            kafka.properties = try KafkaOptions.parse(properties)
            kafka.workers = workers
            kafka.partitions = partitions
            kafka.store = store
            kafka.dispatchers = dispatchers
            configuration.kafka = kafka
        }
        try await PipelineBench(configuration: configuration).run()
    }
}
