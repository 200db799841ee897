import Foundation
import Testing

/// `relay bench` on the embedded bus: a chain of steps, and a fan-out (one for_each step per run); `relay plugin
/// bench-runners --chain`: a chain of warm Python plugins.
@Suite struct BenchCommandTests {
    @Test(arguments: [[], ["--item-concurrency", "7"]]) func theFanOutBenchRunsEveryItemOfEveryRun(options: [String])
        async throws
    {
        let result = try await RelayProcess.run(["bench", "--events", "20", "--fan-out", "50"] + options)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        let summary = lines.dropLast().last ?? ""
        let concurrency = options.last ?? "50"
        #expect(
            summary.hasPrefix("bus=embedded events=20 fan_out=50 item_concurrency=\(concurrency) concurrency=8 "),
            "\(lines)")
        #expect(summary.hasSuffix(" failed_runs=0"), "\(lines)")
        let last = lines.last ?? ""
        #expect(
            last.range(of: #"^runs/s=\d+ steps/s=\d+ p50_ms=\d+ p99_ms=\d+$"#, options: .regularExpression) != nil,
            "\(last)")
    }

    @Test func theSequentialBenchRunsOneRunAtATimeAndPrintsMilliseconds() async throws {
        let result = try await RelayProcess.run(["bench", "--sequential", "20", "--steps", "2"])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        #expect(lines.first?.hasPrefix("calibration_ms=") == true, "\(lines)")
        let summary = lines.dropLast().last ?? ""
        #expect(summary.hasPrefix("bus=embedded sequential=20 warm_up=50 steps=2 "), "\(lines)")
        #expect(summary.hasSuffix(" failed_runs=0"), "\(lines)")
        Self.expectSequentialLine(lines.last ?? "")
    }

    /// `--sqlite-alone`: the burst's statements replayed by SQLite alone, after the burst's own figures; every
    /// statement of the burst replays (the bench fails otherwise), and only the burst's: as many per step as it
    /// counted (the two counts are taken on different threads, a statement or two apart: one digit of the figure).
    @Test func theBurstsStatementsAreReplayedBySQLiteAlone() async throws {
        let result = try await RelayProcess.run(["bench", "--events", "200", "--steps", "2", "--sqlite-alone"])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        let held = lines.first { $0.hasPrefix("sqlite_per_step: ") } ?? ""
        let alone = lines.first { $0.hasPrefix("sqlite_alone_per_step: ") } ?? ""
        #expect(
            alone.range(
                of: #"^sqlite_alone_per_step: us=\d+\.\d cpu_us=\d+\.\d statements=\d+\.\d "#
                    + #"transactions=\d+\.\d\d steps/s=\d+ "#,
                options: .regularExpression) != nil, "\(lines)")
        let statements = { (line: String) in
            line.split(separator: " ").first { $0.hasPrefix("statements=") }.flatMap { Double($0.dropFirst(11)) }
        }
        let counted = try #require(statements(held), "\(lines)")
        let replayed = try #require(statements(alone), "\(lines)")
        #expect(counted > 1 && abs(replayed - counted) <= 0.1 + 1e-9, "\(held) / \(alone)")
        // Then the statements that took most of SQLite's time, last, most first: the steps' inserts among them.
        let byStatement = Array(lines.drop { !$0.hasPrefix("sqlite_alone_per_step: ") }.dropFirst())
        #expect((1...8).contains(byStatement.count), "\(lines)")
        let figures = byStatement.compactMap { line -> (us: Double, share: Int)? in
            let pattern = /^sqlite_alone_statement: us_per_step=(\d+\.\d\d) share=(\d+)% per_step=\d+\.\d\d\d sql=\S/
            guard let match = line.firstMatch(of: pattern), let us = Double(match.1), let share = Int(match.2) else {
                return nil
            }
            return (us, share)
        }
        #expect(figures.count == byStatement.count, "\(byStatement)")
        #expect(figures.map(\.us) == figures.map(\.us).sorted(by: >), "\(byStatement)")
        // (Each share rounded to a whole per cent.)
        #expect(figures.reduce(0) { $0 + $1.share } <= 100 + byStatement.count, "\(byStatement)")
        #expect(byStatement.contains { $0.contains(" sql=INSERT INTO steps (job_id, ") }, "\(byStatement)")
    }

    @Test func theSQLiteReplayIsRefusedWhereThereIsNoBurstOnTheEmbeddedBus() async throws {
        let result = try await RelayProcess.run(["bench", "--sequential", "5", "--sqlite-alone"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--sqlite-alone replays a burst on the embedded bus"), "\(result.stderr)")
    }

    /// The last line of a one-run-at-a-time bench: rates, then percentiles in milliseconds to 0.01.
    static func expectSequentialLine(_ last: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            last.range(
                of: #"^runs/s=\d+ steps/s=\d+ p50_ms=\d+\.\d\d p90_ms=\d+\.\d\d p99_ms=\d+\.\d\d max_ms=\d+\.\d\d$"#,
                options: .regularExpression) != nil, "\(last)", sourceLocation: sourceLocation)
    }

    /// `relay plugin bench-runners --chain`: warm Python servers, driven alone and through the pipeline, in
    /// alternating rounds; every run must succeed (the bench fails otherwise).
    @Test(
        .enabled(
            if: ExternalTriggerTests.python != nil,
            "no Python with insightconnect-plugin-runtime: run scripts/setup-python"))
    func theChainBenchMeasuresThePluginServersAloneAndThroughRelay() async throws {
        let result = try await RelayProcess.run([
            "plugin", "bench-runners", "--chain", "6", "--chain-steps", "2", "--rounds", "2", "--python",
            ExternalTriggerTests.python!,
        ])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        #expect(lines.first?.hasPrefix("calibration_ms=") == true, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("chain: runs=6 steps=2 concurrency=8 plugin=relay_test ") }, "\(lines)")
        for round in 1...2 {
            #expect(lines.contains { $0.hasPrefix("round \(round) servers alone: actions/s=") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("round \(round) through relay:  actions/s=") }, "\(lines)")
        }
        let last = lines.last ?? ""
        #expect(
            last.range(
                of: #"^servers_actions_per_s=\d+ relay_actions_per_s=\d+ ratio=\d+\.\d{3}$"#,
                options: .regularExpression) != nil, "\(last)")
    }

    @Test func theChainBenchRefusesAChainOfNoRuns() async throws {
        let result = try await RelayProcess.run(["plugin", "bench-runners", "--chain", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--chain: expected at least 1 run, found 0"), "\(result.stderr)")
    }

    @Test(arguments: [
        (["--fan-out", "0"], "--fan-out must be from 1 to 10000"),
        (["--fan-out", "1001"], "--fan-out above 1000 needs --item-concurrency"),
        (["--fan-out", "10", "--item-concurrency", "0"], "--item-concurrency must be from 1 to 1000"),
        (["--item-concurrency", "5"], "--item-concurrency needs --fan-out"),
    ])
    func aFanOutOutsideItsLimitsIsRefused(options: [String], error: String) async throws {
        let result = try await RelayProcess.run(["bench"] + options)
        #expect(result.status != 0)
        #expect(result.stderr.contains(error), "\(result.stderr)")
    }
}
