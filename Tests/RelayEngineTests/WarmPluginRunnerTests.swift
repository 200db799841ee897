import Foundation
import RelayCore
import RelayEngine
import Testing

@Suite(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason), .serialized)
struct WarmPluginRunnerTests {
    func start(_ action: String, _ input: JSONValue) -> StepStart {
        StepStart(step: .action(action), input: input, connection: TestPlugins.connection, meta: ["jobId": "j1"])
    }

    @Test func servesManyStepsFromOneProcessAndMasksSecrets() async throws {
        let runner = WarmPluginRunner(plugin: TestPlugins.relayTest)
        defer { Task { await runner.shutdown() } }
        let first = await runner.run(start("echo", ["message": "one"]), timeout: .seconds(60))
        #expect(first.status == .ok, "\(first.error ?? "")")
        #expect(first.output == ["message": "one"])
        let port = await runner.port
        let second = await runner.run(start("echo", ["message": "two"]), timeout: .seconds(60))
        #expect(second.output == ["message": "two"])
        #expect(await runner.port == port, "the same server answers")
        let leak = await runner.run(start("leak", [:]), timeout: .seconds(60))
        #expect(leak.output?["secret"] == "********")
        let failure = await runner.run(start("fail", ["cause": "C.", "assistance": "A."]), timeout: .seconds(60))
        #expect(failure.status == .error)
        #expect(failure.errorKind == .plugin)
        #expect(failure.exception?.cause == "C.")
        await runner.shutdown()
    }

    @Test func aDeadServerIsRestartedForTheNextStep() async throws {
        let runner = WarmPluginRunner(plugin: TestPlugins.relayTest)
        let first = await runner.run(start("echo", ["message": "one"]), timeout: .seconds(60))
        #expect(first.status == .ok)
        let port = try #require(await runner.port)
        // Kill every process listening on that port (gunicorn's master and worker).
        let killer = Process()
        killer.executableURL = URL(fileURLWithPath: "/bin/sh")
        killer.arguments = ["-c", "pkill -9 -f 'relay_test http --port \(port)'"]
        try killer.run()
        killer.waitUntilExit()
        try await Task.sleep(for: .milliseconds(500))
        let second = await runner.run(start("echo", ["message": "two"]), timeout: .seconds(60))
        if second.status == .error {
            // The step that meets the dead server gets a clear error; the one after runs on a new server.
            #expect(second.error?.contains("died") == true || second.error?.contains("did not answer") == true, "\(second.error ?? "")")
            let third = await runner.run(start("echo", ["message": "three"]), timeout: .seconds(60))
            #expect(third.output == ["message": "three"])
        } else {
            #expect(second.output == ["message": "two"])
        }
        #expect(await runner.port != port)
        await runner.shutdown()
    }

    @Test func aStepPastItsDeadlineIsAnErrorAndTheServerIsReplaced() async throws {
        let runner = WarmPluginRunner(plugin: TestPlugins.relayTest)
        let slow = await runner.run(start("sleep", ["seconds": 120]), timeout: .seconds(5))
        #expect(slow.status == .error)
        #expect(slow.errorKind == .timeout)
        let next = await runner.run(start("echo", ["message": "after"]), timeout: .seconds(60))
        #expect(next.output == ["message": "after"])
        await runner.shutdown()
    }
}
