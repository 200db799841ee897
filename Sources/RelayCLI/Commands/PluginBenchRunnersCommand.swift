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
            """
    )

    @Option(help: "Actions per in-process measurement.") var inProcess = 20000
    @Option(help: "Actions per process-per-job measurement.") var processes = 30
    @Option(help: "Actions over warm HTTP.") var warm = 300
    @Option(help: "The Python with insightconnect-plugin-runtime (default: .build/python/bin/python).") var python:
        String?

    func run() async throws {
        print(Calibration.line())
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let nativeExecutable = binDirectory.appendingPathComponent("relay-plugin-base64").path
        let pythonPath = python ?? RelaySource.root + "/.build/python/bin/python"
        let pythonPlugin = RelaySource.root + "/Tests/Fixtures/python/relay_test_plugin/bin/relay_test"
        let encode = StepStart(step: .action("encode"), input: ["content": "Rapid7 InsightConnect"])
        let echo = StepStart(
            step: .action("echo"), input: ["message": "hello"],
            connection: ["api_key": ["secretKey": "s3cr3t-KEY-0123456789"], "base_url": "https://example.com"])
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
            var environment = ExternalPlugin.minimalEnvironment
            environment["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
            let plugin = ExternalPlugin(command: [pythonPath, pythonPlugin], environment: environment)
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
