import Foundation
import RelayCore
import RelayEngine
import Testing

@Suite struct ProcessPluginRunnerTests {
    func start(_ action: String, _ input: JSONValue, connection: JSONValue = TestPlugins.connection) -> StepStart {
        StepStart(step: .action(action), input: input, connection: connection, meta: ["jobId": "j1"])
    }

    @Test(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason))
    func runsAPythonPluginAndTakesTheLastEnvelope() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.relayTest)
        let event = await runner.run(start("echo", ["message": "héllo ✓"]), timeout: .seconds(300))
        #expect(event.status == .ok, "\(event.error ?? "")")
        #expect(event.output == ["message": "héllo ✓"])
        #expect(event.meta == ["jobId": "j1"])
    }

    @Test(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason))
    func aPluginExceptionBecomesAnErrorWithCauseAndAssistance() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.relayTest)
        let event = await runner.run(
            start("fail", ["cause": "Cause.", "assistance": "Assistance.", "data": "some data"]), timeout: .seconds(300)
        )
        #expect(event.status == .error)
        #expect(event.error == "An error occurred during plugin execution! Cause. Assistance. Response was some data")
        #expect(event.exception == StepException(cause: "Cause.", assistance: "Assistance.", data: "some data"))
        #expect(event.errorKind == .plugin)
    }

    @Test(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason))
    func aCrashingActionIsAnErrorResult() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.relayTest)
        let event = await runner.run(start("crash", ["message": "kaboom"]), timeout: .seconds(300))
        #expect(event.status == .error)
        #expect(event.error == "kaboom")
        #expect(event.errorKind == .server)
    }

    @Test(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason))
    func aFailingConnectionTestGivesItsCause() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.relayTest)
        let event = await runner.run(
            StepStart(step: .connectionTest, connection: ["api_key": ["secretKey": "k"], "base_url": "bad"]),
            timeout: .seconds(300))
        #expect(event.status == .error)
        #expect(event.exception?.cause == "The base URL is bad.")
        #expect(event.exception?.assistance == "Use another base URL.")
    }

    @Test(.enabled(if: TestPlugins.hasPython, TestPlugins.noPythonReason))
    func aHangPastTheDeadlineIsKilled() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.relayTest)
        let clock = ContinuousClock()
        var event: StepEvent?
        let elapsed = await clock.measure {
            event = await runner.run(start("sleep", ["seconds": 900]), timeout: .seconds(5))
        }
        #expect(event?.status == .error)
        #expect(event?.errorKind == .timeout)
        #expect(event?.error?.contains("did not finish within 5") == true)
        // Far below the plugin's 900 s, far above what a loaded machine takes: it tells killed from waited for.
        #expect(elapsed < .seconds(300), "the runner must not wait for the sleeping plugin")
    }

    @Test func garbageOnStdoutIsAClearError() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.shell("cat >/dev/null; echo 'Traceback: not json'"))
        let event = await runner.run(start("x", [:]), timeout: .seconds(30))
        #expect(event.status == .error)
        #expect(
            event.error
                == #"the plugin printed no v1 event envelope; expected {"version":"v1","type":"<x>_event","body":{…}} "#
                + #"on stdout, found "Traceback: not json""#
        )
    }

    /// A runaway plugin costs at most the collector's limit in memory; its step fails saying so, even with an
    /// envelope at the end.
    @Test func moreThanTheLimitOnStdoutIsAClearError() async {
        let envelope = #"{"version":"v1","type":"action_event","body":{"status":"ok","output":{}}}"#
        let runner = ProcessPluginRunner(
            plugin: TestPlugins.shell(
                "cat >/dev/null; head -c 70000000 /dev/zero | tr '\\0' ' '; echo '\(envelope)'"))
        let event = await runner.run(start("x", [:]), timeout: .seconds(300))
        #expect(event.status == .error)
        #expect(event.error == "the plugin wrote more than 64 MiB on stdout; Relay reads at most that")
    }

    /// A plugin that exits without reading a large input: the write fails with EPIPE (Relay ignores SIGPIPE), the
    /// step fails saying why, and the caller lives on.
    @Test func aPluginThatDoesNotReadALargeInputIsAClearError() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.shell("exit 0"))
        let event = await runner.run(
            start("x", ["big": .string(String(repeating: "x", count: 4 << 20))]),
            timeout: .seconds(300))
        #expect(event.status == .error)
        #expect(event.error?.hasPrefix("the plugin printed no v1 event envelope") == true, "\(event.error ?? "")")
    }

    @Test func emptyOutputAndANonZeroExitAreClearErrors() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.shell("cat >/dev/null; echo oops >&2; exit 3"))
        let event = await runner.run(start("x", [:]), timeout: .seconds(30))
        #expect(
            event.error
                == #"the plugin exited with status 3 without a v1 event envelope; stdout: nothing; stderr: "oops""#)
    }

    @Test func aPluginKilledByASignalIsACrash() async {
        let runner = ProcessPluginRunner(plugin: TestPlugins.shell("cat >/dev/null; kill -9 $$"))
        let event = await runner.run(start("x", [:]), timeout: .seconds(30))
        #expect(event.status == .error)
        #expect(event.error?.hasPrefix("the plugin crashed (killed by signal 9)") == true)
    }

    @Test func logLinesAndOtherJSONBeforeTheEnvelopeAreSkipped() async {
        let script = """
            cat >/dev/null
            echo '2026-11-29 [info] starting {not json'
            echo '{"log": "a json log line"}'
            printf '%s' '{"body": {"log": "", "status": "ok", "meta": {}, "output": {"n": 1}}, ' \\
                '"version": "v1", "type": "action_event"}'
            """
        let event = await ProcessPluginRunner(plugin: TestPlugins.shell(script)).run(
            start("x", [:]), timeout: .seconds(30))
        #expect(event.status == .ok)
        #expect(event.output == ["n": 1])
    }

    @Test func theChildSeesOnlyTheEnvironmentItIsGiven() async {
        setenv("RELAY_TEST_LEAKY_SECRET", "do-not-pass-me", 1)
        defer { unsetenv("RELAY_TEST_LEAKY_SECRET") }
        let script = """
            cat >/dev/null
            printf '{"body": {"status": "ok", "output": {"secret": "%s", "path": "%s"}}, "version": "v1", %s}' \\
                "$RELAY_TEST_LEAKY_SECRET" "$PATH" '"type": "action_event"'
            """
        let event = await ProcessPluginRunner(plugin: TestPlugins.shell(script)).run(
            start("x", [:]), timeout: .seconds(30))
        #expect(event.output?["secret"] == "")
        #expect(event.output?["path"] == .string(ExternalPlugin.minimalEnvironment["PATH"]!))
    }

    @Test func aMissingProgramIsAClearError() async {
        let runner = ProcessPluginRunner(plugin: ExternalPlugin(command: ["/nonexistent/plugin"]))
        let event = await runner.run(start("x", [:]), timeout: .seconds(10))
        #expect(event.status == .error)
        #expect(event.error?.hasPrefix("could not start the plugin (/nonexistent/plugin)") == true)
    }
}
