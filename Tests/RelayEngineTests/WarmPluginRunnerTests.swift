import Foundation
import RelayCore
import RelayEngine
import RelayTestSupport
import Testing

/// The warm runner against the real Python plugin, whose `http` server is gunicorn (a master and workers): each
/// server runs in its own process group, which ends when the server is replaced or the runner shuts down.
@Suite(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason), .serialized)
struct WarmPluginRunnerTests {
    func start(_ action: String, _ input: JSONValue) -> StepStart {
        StepStart(step: .action(action), input: input, connection: TestPlugins.connection, meta: ["jobId": "j1"])
    }

    /// Every process of `group` (gunicorn's master and its workers) has ended.
    func groupEnds(_ group: pid_t) async -> Bool {
        await waitFor { ProcessTable.members(ofGroup: group).isEmpty }
    }

    @Test func servesManyStepsFromOneProcessAndMasksSecrets() async throws {
        let runner = WarmPluginRunner(plugin: TestPlugins.relayTest)
        let first = await runner.run(start("echo", ["message": "one"]), timeout: .seconds(300))
        #expect(first.status == .ok, "\(first.error ?? "")")
        #expect(first.output == ["message": "one"])
        let group = try #require(await runner.serverProcessGroup)
        let second = await runner.run(start("echo", ["message": "two"]), timeout: .seconds(300))
        #expect(second.output == ["message": "two"])
        #expect(await runner.serverProcessGroup == group, "the same server answers")
        let leak = await runner.run(start("leak", [:]), timeout: .seconds(300))
        #expect(leak.output?["secret"] == "********")
        let failure = await runner.run(start("fail", ["cause": "C.", "assistance": "A."]), timeout: .seconds(300))
        #expect(failure.status == .error)
        #expect(failure.errorKind == .plugin)
        #expect(failure.exception?.cause == "C.")
        #expect(ProcessTable.members(ofGroup: group).count >= 2, "gunicorn's master and at least one worker")
        await runner.shutdown()
        #expect(await groupEnds(group), "left running after shutdown: \(ProcessTable.members(ofGroup: group))")
    }

    /// The server's whole group is killed from outside; the runner sees its server gone, and the next step
    /// starts a new one.
    @Test func aDeadServerIsRestartedForTheNextStep() async throws {
        let runner = WarmPluginRunner(plugin: TestPlugins.relayTest)
        let first = await runner.run(start("echo", ["message": "one"]), timeout: .seconds(300))
        #expect(first.status == .ok, "\(first.error ?? "")")
        let group = try #require(await runner.serverProcessGroup)
        #expect(kill(-group, SIGKILL) == 0)
        #expect(await waitFor { await runner.serverProcessGroup == nil }, "the runner did not see its server die")
        #expect(await groupEnds(group))
        let second = await runner.run(start("echo", ["message": "two"]), timeout: .seconds(300))
        #expect(second.status == .ok, "\(second.error ?? "")")
        #expect(second.output == ["message": "two"])
        let replacement = try #require(await runner.serverProcessGroup)
        #expect(replacement != group)
        await runner.shutdown()
        #expect(await groupEnds(replacement))
    }

    @Test func aStepPastItsDeadlineIsAnErrorAndTheServerIsReplaced() async throws {
        let runner = WarmPluginRunner(plugin: TestPlugins.relayTest)
        let warm = await runner.run(start("echo", ["message": "before"]), timeout: .seconds(300))
        #expect(warm.status == .ok, "\(warm.error ?? "")")
        let group = try #require(await runner.serverProcessGroup)
        let slow = await runner.run(start("sleep", ["seconds": 120]), timeout: .seconds(5))
        #expect(slow.status == .error)
        #expect(slow.errorKind == .timeout)
        #expect(await groupEnds(group), "the replaced server's processes are still running")
        let next = await runner.run(start("echo", ["message": "after"]), timeout: .seconds(300))
        #expect(next.output == ["message": "after"])
        let replacement = try #require(await runner.serverProcessGroup)
        await runner.shutdown()
        #expect(await groupEnds(replacement))
    }

    /// The port the runner chose was free when chosen, but taken before the server bound it (another process chose
    /// it at the same moment): the server exits saying its address is in use, and the runner starts it again on
    /// another port instead of failing the step. (The plugin's command is wrapped in a script that says so the first
    /// time, as gunicorn does, and is the plugin from then on.)
    @Test func aServerWhosePortWasTakenIsStartedAgainOnAnother() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-port-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.appendingPathComponent("refused-once").path
        let script = directory.appendingPathComponent("taken-once.sh").path
        try """
        if [ ! -e '\(marker)' ]; then
          touch '\(marker)'
          echo "[ERROR] connection to ('0.0.0.0', 1) failed: [Errno 98] Address already in use" >&2
          exit 1
        fi
        exec "$@"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        var plugin = TestPlugins.relayTest
        plugin.command = ["/bin/sh", script] + plugin.command
        let runner = WarmPluginRunner(plugin: plugin)
        let result = await runner.run(start("echo", ["message": "one"]), timeout: .seconds(300))
        #expect(FileManager.default.fileExists(atPath: marker), "the first server was refused its port")
        #expect(result.status == .ok, "\(result.error ?? "")")
        #expect(result.output == ["message": "one"])
        let group = try #require(await runner.serverProcessGroup)
        await runner.shutdown()
        #expect(await groupEnds(group))
    }
}
