import ArgumentParser
import Foundation
import RelayBench
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySDK

/// `relay plugin bench-runners`: what one action costs through each way Relay can run a plugin.
struct PluginBenchRunnersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-runners",
        abstract:
            "Measure the cost per action of native in-process, native per-process, Python per-process and "
            + "Python warm HTTP.",
        discussion: """
            Runs base64 encode (native) and the relay_test plugin's echo (Python, on insightconnect-plugin-runtime) \
            sequentially and prints the mean and median per action for each way of running. Needs \
            relay-plugin-base64 beside relay, and a Python with the runtime (scripts/setup-python) for the Python rows.

            With --chain N: instead, N runs of a workflow of --chain-steps warm relay_test echo steps (each plugin \
            its own server) published at once on the embedded bus (dispatcher and worker in this process), against \
            the same servers driven directly over HTTP with the same concurrency; prints actions/s of both and the \
            ratio, for each of --rounds rounds and their medians.
            """
    )

    @Option(help: "Actions per in-process measurement.") var inProcess = 20000
    @Option(help: "Actions per process-per-job measurement.") var processes = 30
    @Option(help: "Actions over warm HTTP.") var warm = 300
    @Option(help: "The Python with insightconnect-plugin-runtime (default: .build/python/bin/python).") var python:
        String?
    @Option(
        help: """
            Instead of the rows above: N runs of a chain of warm Python plugins (relay_test echo, a server per \
            step) through the embedded pipeline, against the same servers driven directly over HTTP.
            """)
    var chain: Int?
    @Option(help: "With --chain: steps per chain (each its own plugin server).") var chainSteps = 4
    @Option(help: "With --chain: jobs (or chains, for the servers alone) at a time.") var chainConcurrency = 8
    @Option(help: "With --chain: rounds, each measuring both ways in alternating order.") var rounds = 3

    func validate() throws {
        if let chain, chain < 1 { throw ValidationError("--chain: expected at least 1 run, found \(chain)") }
        guard (1...64).contains(chainSteps) else { throw ValidationError("--chain-steps: expected 1 to 64") }
        guard (1...1024).contains(chainConcurrency) else {
            throw ValidationError("--chain-concurrency: expected 1 to 1024")
        }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds: expected 1 to 100") }
    }

    func run() async throws {
        print(Calibration.line())
        if let chain {
            try await runChain(chain)
            return
        }
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let nativeExecutable = binDirectory.appendingPathComponent("relay-plugin-base64").path
        let (plugin, pythonPath) = pythonPlugin()
        let encode = StepStart(step: .action("encode"), input: ["content": "Rapid7 InsightConnect"])
        let echo = StepStart(step: .action("echo"), input: ["message": "hello"], connection: Self.echoConnection)
        var rows: [(String, Int, [Double])] = []

        let host = PluginHost(plugin: try NativePlugins.base64())
        _ = await host.run(encode)
        rows.append(("native in-process", inProcess, try await measure(inProcess) { await host.run(encode) }))

        if FileManager.default.isExecutableFile(atPath: nativeExecutable) {
            let runner = ProcessPluginRunner(plugin: ExternalPlugin(command: [nativeExecutable]))
            rows.append(
                (
                    "native, process per job", processes,
                    try await measure(processes) { await runner.run(encode, timeout: .seconds(60)) }
                ))
        } else {
            print("skipped native per-process: no \(nativeExecutable) (swift build --product relay-plugin-base64)")
        }

        if FileManager.default.isExecutableFile(atPath: pythonPath) {
            let perProcess = ProcessPluginRunner(plugin: plugin)
            rows.append(
                (
                    "python, process per job", processes,
                    try await measure(processes) { await perProcess.run(echo, timeout: .seconds(60)) }
                ))
            let warmRunner = WarmPluginRunner(plugin: plugin)
            _ = await warmRunner.run(echo, timeout: .seconds(120))
            rows.append(
                (
                    "python, warm http", warm,
                    try await measure(warm) { await warmRunner.run(echo, timeout: .seconds(60)) }
                ))
            await warmRunner.shutdown()
        } else {
            print("skipped Python rows: no \(pythonPath) (scripts/setup-python)")
        }

        print("runner                      actions     mean_ms   median_ms")
        for (name, count, samples) in rows {
            let sorted = samples.sorted()
            let mean = samples.reduce(0, +) / Double(samples.count)
            let padded = name.padding(toLength: 26, withPad: " ", startingAt: 0)
            print(padded + String(format: " %8d %11.3f %11.3f", count, mean, sorted[sorted.count / 2]))
        }
    }

    /// `--chain N`: the warm Python chain through Relay and the plugins' servers alone (`PluginChainBench`).
    private func runChain(_ runs: Int) async throws {
        let (plugin, pythonPath) = pythonPlugin()
        guard FileManager.default.isExecutableFile(atPath: pythonPath) else {
            throw CLIFailure("--chain needs the Python of scripts/setup-python: no \(pythonPath)")
        }
        var configuration = PluginChainBench.Configuration(
            plugin: plugin, spec: RelaySource.root + "/Tests/Fixtures/python/relay_test_plugin/plugin.spec.yaml")
        configuration.runs = runs
        configuration.steps = chainSteps
        configuration.concurrency = chainConcurrency
        configuration.rounds = rounds
        configuration.connection = Self.echoConnection
        try await PluginChainBench(configuration: configuration).run()
    }

    /// The relay_test plugin run by the Python of scripts/setup-python (or `--python`), and that Python's path.
    private func pythonPlugin() -> (ExternalPlugin, String) {
        let pythonPath = python ?? RelaySource.root + "/.build/python/bin/python"
        var environment = ExternalPlugin.minimalEnvironment
        environment["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
        let command = [pythonPath, RelaySource.root + "/Tests/Fixtures/python/relay_test_plugin/bin/relay_test"]
        return (ExternalPlugin(command: command, environment: environment), pythonPath)
    }

    /// The relay_test plugin's connection, as its spec wants it.
    static let echoConnection: JSONValue = [
        "api_key": ["secretKey": "s3cr3t-KEY-0123456789"], "base_url": "https://example.com",
    ]

    /// Milliseconds per call; fails if a call does not succeed.
    private func measure(_ count: Int, _ body: () async -> StepEvent) async throws -> [Double] {
        var samples: [Double] = []
        samples.reserveCapacity(count)
        let clock = ContinuousClock()
        for _ in 0..<count {
            var event: StepEvent?
            let elapsed = await clock.measure { event = await body() }
            guard event?.status == .ok else { throw CLIFailure("a benchmark action failed: \(event?.error ?? "?")") }
            samples.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        }
        return samples
    }
}

/// The Relay source tree this binary was built from: where `plugin bench-runners`, a benchmark for Relay's own
/// developers run from their checkout, finds the Python test plugin and the Python of scripts/setup-python.
enum RelaySource {
    static let root: String = {
        let file = URL(fileURLWithPath: #filePath)
        return file.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()
}
