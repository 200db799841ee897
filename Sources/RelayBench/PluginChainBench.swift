import Foundation
import RelayCore
import RelayEngine
import RelaySpec
import RelayStore
import RelayTransport
import Synchronization

/// `relay plugin bench-runners --chain N`: a chain of `steps` warm external plugins (each its own server, all the
/// same plugin under different names), measured two ways in each round, in alternating order:
///
/// - **servers alone**: the plugins' servers driven directly over HTTP (`PluginHTTPClient`, keep-alive), `N`
///   chains with `concurrency` of them at a time, each chain POSTing its steps one after the other to server 1, 2,
///   …, each step's input the previous step's output;
/// - **through Relay**: the same `N` chains as runs of a workflow of `steps` steps, published at once on the
///   embedded bus (a fresh SQLite file), with the dispatcher and a worker (`concurrency` jobs at a time) in this
///   process, each step run by the plugin's `WarmPluginRunner`.
///
/// Both count actions per second (steps × N over the elapsed time); the ratio is Relay's over the servers'.
public struct PluginChainBench: Sendable {
    public struct Configuration: Sendable {
        /// Chains per measurement.
        public var runs = 500
        /// Steps per chain, each a plugin server of its own.
        public var steps = 4
        /// Chains (servers alone) or jobs (through Relay) at a time.
        public var concurrency = 8
        /// Rounds, each measuring both ways.
        public var rounds = 3
        /// The plugin: its command (`… http --port P` is appended) and spec; the action and its input key.
        public var plugin: ExternalPlugin
        public var spec: String
        public var action = "echo"
        public var field = "message"
        /// The connection every step uses.
        public var connection: JSONValue = [:]

        public init(plugin: ExternalPlugin, spec: String) {
            self.plugin = plugin
            self.spec = spec
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Runs the rounds and prints a line per measurement, then the medians and their ratio (last line:
    /// `servers_actions_per_s=… relay_actions_per_s=… ratio=…`).
    public func run() async throws {
        let spec = try PluginSpec.load(path: configuration.spec)
        let schemas = try SchemaGenerator(spec: spec).document()
        let names = (1...configuration.steps).map { "\(spec.name)_\($0)" }
        let runners = names.map { _ in WarmPluginRunner(plugin: configuration.plugin) }
        var catalog = PluginCatalog()
        for (name, runner) in zip(names, runners) {
            catalog.entries[name] = .init(spec: spec, schemas: schemas, executor: runner)
        }
        let connections = ConnectionStore(connections: [
            .init(name: "bench", plugin: names[0], parameters: configuration.connection)
        ])
        let workflow = try WorkflowDecoder.decode(yaml: workflowYAML(names), file: "chain.yaml")
        let actions = Double(configuration.runs * configuration.steps)
        print(
            "chain: runs=\(configuration.runs) steps=\(configuration.steps) concurrency=\(configuration.concurrency) "
                + "plugin=\(spec.name) action=\(configuration.action) (one warm server per step)")
        var alone: [Double] = []
        var relay: [Double] = []
        for round in 1...configuration.rounds {
            for relayFirst in round % 2 == 0 ? [true, false] : [false, true] {
                let ports = try await warm(runners)
                if relayFirst {
                    let (seconds, cpu) = try await throughRelay(
                        workflow: workflow, catalog: catalog, connections: connections)
                    relay.append(actions / seconds)
                    print(
                        String(
                            format: "round %d through relay:  actions/s=%.0f seconds=%.2f relay_cpu_us_per_action=%.0f",
                            round, actions / seconds, seconds, cpu * 1e6 / actions))
                } else {
                    let cpuStart = ProcessCPU.seconds()
                    let seconds = try await serversAlone(ports: ports)
                    let cpu = ProcessCPU.seconds() - cpuStart
                    alone.append(actions / seconds)
                    print(
                        String(
                            format: "round %d servers alone: actions/s=%.0f seconds=%.2f client_cpu_us_per_action=%.0f",
                            round, actions / seconds, seconds, cpu * 1e6 / actions))
                }
            }
        }
        for runner in runners { await runner.shutdown() }
        let (a, r) = (median(alone), median(relay))
        print(
            "servers alone actions/s: " + alone.map { String(format: "%.0f", $0) }.joined(separator: ", ")
                + "; through relay: " + relay.map { String(format: "%.0f", $0) }.joined(separator: ", "))
        print(String(format: "servers_actions_per_s=%.0f relay_actions_per_s=%.0f ratio=%.3f", a, r, r / a))
    }

    /// The workflow: `names.count` steps, each calling the next plugin with the previous step's output.
    func workflowYAML(_ names: [String]) -> String {
        let (action, field) = (configuration.action, configuration.field)
        var yaml = "name: chain\ntrigger: {plugin: webhook, trigger: webhook, input: {path: chain}}\nsteps:\n"
        for (index, name) in names.enumerated() {
            let input = index == 0 ? "\"{{ trigger.\(field) }}\"" : "\"{{ steps.s\(index - 1).output.\(field) }}\""
            yaml +=
                "  - {id: s\(index), plugin: \(name), action: \(action), connection: bench, "
                + "input: {\(field): \(input)}}\n"
        }
        return yaml
    }

    /// Starts every runner's server (if it is not running) with one action each; their ports.
    private func warm(_ runners: [WarmPluginRunner]) async throws -> [Int] {
        var ports: [Int] = []
        for runner in runners {
            let event = await runner.run(start("warm-up"), timeout: .seconds(120))
            guard event.status == .ok, let port = await runner.port else {
                throw BenchError("chain: the plugin's server did not answer: \(event.error ?? "no port")")
            }
            ports.append(port)
        }
        return ports
    }

    private func start(_ value: String) -> StepStart {
        StepStart(
            step: .action(configuration.action), input: [configuration.field: .string(value)],
            connection: configuration.connection)
    }

    /// Seconds for `runs` chains over the servers alone, `concurrency` at a time.
    private func serversAlone(ports: [Int]) async throws -> Double {
        let clients = ports.map { PluginHTTPClient(port: $0) }
        defer { for client in clients { client.close() } }
        let next = Counter()
        let (runs, concurrency, field) = (configuration.runs, configuration.concurrency, configuration.field)
        let path = "/api/v1/actions/\(configuration.action)"
        let clock = ContinuousClock()
        let began = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while let n = next.take(below: runs) {
                        var value = JSONValue.string("hello \(n)")
                        for client in clients {
                            let body = JSONWriter.compact.bytes(self.start(value.stringValue ?? "").message.json)
                            let response = try await client.request(.POST, path, body: body, timeout: .seconds(60))
                            let output = try? StepEvent(
                                body: V1Message(json: JSONParser.parse(bytes: response.body)).body
                            ).output
                            guard response.status == 200, let output = output?[field] else {
                                throw BenchError(
                                    "chain: the server answered HTTP \(response.status): "
                                        + String(decoding: response.body.prefix(300), as: UTF8.self))
                            }
                            value = output
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return BenchFigures.seconds(clock.now - began)
    }

    /// Seconds for `runs` runs of the chain through the embedded pipeline, and the CPU seconds this process used.
    private func throughRelay(
        workflow: Workflow, catalog: PluginCatalog, connections: ConnectionStore
    ) async throws -> (Double, Double) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-chain-bench-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try SQLiteDatabase(path: directory + "/relay.sqlite")
        let instance = workflow.trigger?.instanceID ?? ""
        let messages = (0..<configuration.runs).map { n in
            TriggerEvent(
                id: "chain-\(n)", instance: instance, output: [configuration.field: .string("hello \(n)")],
                time: Date().timeIntervalSince1970
            )
            .message
        }
        let measurement = try await PipelineBench.embedded(
            messages, workflow: workflow, catalog: catalog, connections: connections, database: database,
            concurrency: configuration.concurrency)
        let store = SQLRunStore(readingFrom: database)
        let failed = try await store.runCounts().filter { $0.key != .succeeded }.values.reduce(0, +)
        guard failed == 0 else {
            let failure = try await store.runs(limit: Int.max).first { $0.status != .succeeded }
            throw BenchError("chain: \(failed) runs failed through relay (\(failure?.error ?? "?"))")
        }
        let seconds = BenchFigures.seconds(measurement.elapsed)
        print(try await breakdown(store, seconds: seconds))
        return (seconds, measurement.cpu)
    }

    /// Where a step's time went through Relay, from the run store's step records (scheduled by the dispatcher,
    /// started and finished by the worker): `queue_ms`, from the job's scheduling to its start in the worker;
    /// `plugin_ms`, the runner's call (HTTP and the plugin's work); `handoff_ms`, from a step's end in the worker
    /// to the next step's scheduling (the result's commit, the dispatcher's decision); `in_flight`, jobs at the
    /// plugins' servers on average (what `concurrency` chains give the servers alone).
    private func breakdown(_ store: SQLRunStore, seconds: Double) async throws -> String {
        var (queue, plugin, handoff, steps, handoffs) = (0.0, 0.0, 0.0, 0, 0)
        for summary in try await store.runs(limit: Int.max) {
            guard let run = try await store.run(id: summary.id) else { continue }
            var previousEnd: Double?
            for attempt in run.steps.sorted(by: { $0.scheduledAt < $1.scheduledAt }) {
                guard let started = attempt.startedAt, let finished = attempt.finishedAt else { continue }
                queue += started - attempt.scheduledAt
                plugin += finished - started
                steps += 1
                if let previousEnd {
                    handoff += attempt.scheduledAt - previousEnd
                    handoffs += 1
                }
                previousEnd = finished
            }
        }
        return String(
            format: "relay breakdown: in_flight=%.1f queue_ms=%.1f plugin_ms=%.2f handoff_ms=%.2f", plugin / seconds,
            queue * 1000 / Double(max(1, steps)), plugin * 1000 / Double(max(1, steps)),
            handoff * 1000 / Double(max(1, handoffs)))
    }

    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}

/// The next chain's number, shared by the concurrent chains of `serversAlone`.
private final class Counter: Sendable {
    private let value = Mutex(0)

    func take(below limit: Int) -> Int? {
        value.withLock { value in
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
