import ArgumentParser
import Foundation
import RelayBench
import RelayCore
import RelaySpec

/// `relay plugin bench DIR`: how long parsing specs and generating their schemas takes.
struct PluginBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure parsing and schema generation over a directory of plugin specs.",
        discussion: """
            Reads every plugin.spec.yaml under DIR into memory once, then times ROUNDS rounds of: parse every \
            spec, generate every schema, write every document as JSON. Prints one line per round and a summary \
            line: specs=… rounds=… best_ms=… median_ms=… per_spec_us=….
            """
    )

    @Argument(help: "A directory of plugin directories (e.g. ../shared/corpus/insightconnect/specs).")
    var directory: String

    @Option(help: "Timed rounds.")
    var rounds = 5

    func run() throws {
        guard rounds > 0 else { throw ValidationError("--rounds must be at least 1") }
        print(Calibration.line())
        let files = try CLIFailure.wrap { try SpecPaths.specFiles(under: directory) }
        var texts: [(String, String)] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIFailure("\(file): cannot read")
            }
            texts.append((file, String(decoding: data, as: UTF8.self)))
        }
        var durations: [Double] = []
        var bytes = 0
        for round in 1...rounds {
            let clock = ContinuousClock()
            bytes = 0
            let elapsed = try clock.measure {
                for (file, text) in texts {
                    let spec = try CLIFailure.wrap { try PluginSpec.decode(yaml: text, file: file) }
                    let document = try CLIFailure.wrap { try SchemaGenerator(spec: spec).document() }
                    bytes += JSONWriter.reference.string(document).utf8.count
                }
            }
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            durations.append(ms)
            print(
                "round \(round): \(texts.count) specs in \(String(format: "%.1f", ms)) ms (\(bytes) bytes of schemas)")
        }
        let sorted = durations.sorted()
        let best = sorted[0]
        let median = sorted[sorted.count / 2]
        print(
            String(
                format: "specs=%d rounds=%d best_ms=%.1f median_ms=%.1f per_spec_us=%.0f",
                texts.count, rounds, best, median, median * 1000 / Double(texts.count)))
    }
}
