import Foundation
import Logging
import RelayCore
import RelayEngine
import RelayKafka
import RelaySpec
import RelayStore
import RelayTransport
import Synchronization

/// `relay bench --brokers`: the dispatcher in this process on Kafka, `workers` `relay worker` processes, every topic
/// and group under a fresh prefix. The workers' groups are formed (their `/metrics` say they own every partition of
/// the job topic) and one warm-up run has finished before the clock starts, so the figures are of the pipeline at
/// work, not of joining.
struct KafkaBench {
    let kafka: PipelineBench.Kafka
    let concurrency: Int
    let directory: String
    let workflow: Workflow
    let catalog: PluginCatalog
    /// The plugin of the workflow's steps: the workers' group to wait for.
    let plugin: String
    /// The run store's database: a SQLite file, or PostgreSQL shared by `kafka.dispatchers` dispatchers.
    let database: any SQLDatabase

    /// Publishes `messages` at once (the burst), or with `oneAtATime` each once the run before it has finished
    /// (`Measurement.latencies`: from publishing an event to its run's end in the run store).
    func run(_ messages: [BusMessage], oneAtATime: Bool = false) async throws -> PipelineBench.Measurement {
        let (properties, workers, partitions) = (kafka.properties, kafka.workers, kafka.partitions)
        let brokers = kafka.bootstrapServers.joined(separator: ",")
        let prefix = "bench-\(UUID().uuidString.prefix(8).lowercased())."
        var logger = Logger(label: "relay.bench")
        logger.logLevel = .warning
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(
                bootstrapServers: kafka.bootstrapServers, clientID: "relay-bench", properties: properties))
        configuration.topicPrefix = prefix
        configuration.defaultPartitions = partitions
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 1_000
        print(
            "kafka \(brokers): topics and groups under \(prefix)*, \(partitions) partitions, \(workers) "
                + "worker process(es), \(kafka.dispatchers) dispatcher(s)"
        )

        // Each dispatcher its own client (a member of the dispatchers' group), all on the one run store; the first
        // client also publishes the events.
        let transports = try (0..<kafka.dispatchers).map { _ in
            try KafkaTransport(configuration: configuration, logger: logger)
        }
        let transport = transports[0]
        var processes: WorkerProcesses?
        var dispatching: Task<Void, any Error>?
        do {
            // Everything a worker needs comes as arguments; RELAY_* settings of the caller's environment (a port,
            // a plugin list, a prefix) are not inherited.
            // Each worker serves /metrics on a port of its own, where the bench reads which partitions it owns.
            let ports = try (0..<workers).map { _ in try LoopbackPort.free() }
            let started = try WorkerProcesses(
                count: workers, directory: directory,
                arguments: [
                    "--brokers", brokers, "--topic-prefix", prefix, "--plugin", plugin,
                    "--concurrency", String(concurrency), "--partitions", String(partitions), "--session-timeout-ms",
                    "6000",
                ] + properties.sorted { $0.key < $1.key }.flatMap { ["--kafka-property", "\($0.key)=\($0.value)"] },
                ports: ports)
            processes = started
            let stores = try transports.map { try SQLRunStore(database: database, publishingTo: $0) }
            let store = stores[0]
            // One set of metrics for the dispatchers: the runs they have finished (see `publishAndWait`).
            let metrics = PipelineMetrics()
            let dispatchers = zip(transports, stores).map { transport, store in
                PipelineAssembly(
                    workflows: [workflow], catalog: catalog, transport: transport, metrics: metrics, logger: logger
                ).services(dispatcher: store)
            }
            dispatching = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for services in dispatchers { group.addTask { try await services.run() } }
                    try await group.waitForAll()
                }
            }
            // Every partition of the job topic owned by a worker (each worker owns some when there are enough).
            try await KafkaAssignmentProbe(ports: ports).waitForAssignment(
                of: prefix + Topics.jobs(plugin), partitions: partitions, timeout: .seconds(180),
                check: { try started.checkAlive() })
            // One run end to end: the dispatcher's groups are formed too.
            let instance = (workflow.trigger?.instanceID ?? "")
            try await transport.publish([
                TriggerEvent(
                    id: "bench-warm-up", instance: instance, output: ["n": 0], time: Date().timeIntervalSince1970
                ).message
            ])
            let deadline = ContinuousClock.now + .seconds(180)
            while try await PipelineBench.finishedRuns(store) < 1 {
                guard ContinuousClock.now < deadline else {
                    throw BenchError("bench: the warm-up run did not finish within 180 s")
                }
                try started.checkAlive()
                try await Task.sleep(for: .milliseconds(50))
            }
            print(
                "workers ready, warm-up run finished; publishing \(messages.count) events"
                    + (oneAtATime ? ", one at a time" : ""))
            let measurement =
                oneAtATime
                ? try await PipelineBench.publishOneAtATime(
                    messages, store: store, alreadyFinished: 1, check: { try started.checkAlive() },
                    publish: { try await transport.publish($0) })
                : try await PipelineBench.publishAndWait(
                    messages, store: store, alreadyFinished: 1,
                    check: { try started.checkAlive() },
                    finished: { metrics.runsFinished },
                    workersCPU: { started.cpuSeconds() }, publish: { try await transport.publish($0) })
            dispatching?.cancel()
            _ = await dispatching?.result
            await started.terminate()
            for transport in transports { await transport.close() }
            return measurement
        } catch {
            dispatching?.cancel()
            _ = await dispatching?.result
            processes?.kill()
            for transport in transports { await transport.close() }
            throw error
        }
    }
}

/// `relay worker` child processes of the bench, started by Relay's launcher (`PluginProcess`: each in its own process
/// group); each one's stderr goes to a log file in the bench's directory, whose end is shown when it exits. (A file,
/// not a pipe read through `FileHandle.readabilityHandler`: Relay reads no pipe on a Dispatch read source, see
/// `PipeCollector`.)
final class WorkerProcesses: Sendable {
    private let processes: [PluginProcess]
    private let logs: [URL]

    /// Worker `index` gets `arguments` and `--port ports[index]` (its `/metrics`).
    init(count: Int, directory: String, arguments: [String], ports: [Int]) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        // The caller's RELAY_* settings would override nothing given as arguments, but could add what the bench
        // does not want (RELAY_WORKER_PLUGINS, RELAY_KAFKA_PROPERTIES …): the workers get none of them.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RELAY_") }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw BenchError("bench: cannot open /dev/null") }
        defer { close(null) }
        var processes: [PluginProcess] = []
        let logs = (0..<count).map { URL(fileURLWithPath: directory).appendingPathComponent("worker-\($0 + 1).log") }
        for index in 0..<count {
            let log = open(logs[index].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            do {
                guard log >= 0 else { throw BenchError("cannot create \(logs[index].path)") }
                defer { close(log) }
                processes.append(
                    try PluginProcess.spawn(
                        command: [executable.path, "worker", "--dir", directory] + arguments + [
                            "--port", String(ports[index]),
                        ], environment: environment,
                        workingDirectory: nil, stdin: null, stdout: null, stderr: log))
            } catch {
                for started in processes { started.signalGroup(SIGKILL) }
                throw BenchError("bench: cannot start worker \(index + 1) (\(executable.path)): \(error)")
            }
        }
        self.processes = processes
        self.logs = logs
    }

    /// CPU time (user and system) the running workers have used, in seconds (`/proc/PID/stat`).
    func cpuSeconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return processes.reduce(0) { total, process in
            guard let stat = try? String(contentsOfFile: "/proc/\(process.pid)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { return total }
            // After the command's closing parenthesis: state is field 3, utime and stime fields 14 and 15.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
                return total
            }
            return total + (user + system) / ticks
        }
    }

    /// Throws if a worker has exited (with the end of its log).
    func checkAlive() throws {
        if let exited = processes.firstIndex(where: { !$0.isRunning }) {
            let ending = processes[exited].termination.map(\.description) ?? "ended"
            let log = (try? Data(contentsOf: logs[exited])).map { String(decoding: $0.suffix(4000), as: UTF8.self) }
            throw BenchError("bench: worker \(exited + 1) \(ending):\n\(log ?? "(no log)")")
        }
    }

    /// SIGTERM to each worker's group (they drain and leave their consumer groups), then SIGKILL for any still
    /// running after 30 s; returns when every worker has exited.
    func terminate() async {
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await process.stop(grace: .seconds(30)) } }
        }
    }

    func kill() {
        for process in processes { process.signalGroup(SIGKILL) }
    }
}
