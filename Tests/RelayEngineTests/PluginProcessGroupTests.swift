import Foundation
import Logging
import RelayCore
import RelayTestSupport
import Synchronization
import Testing

@testable import RelayEngine

/// A plugin runs in its own process group: when its step ends (the plugin exited, the deadline passed, the
/// trigger was cancelled), nothing it started is left running, and a pipe it left open cannot hold the step.
/// Each plugin writes its child's pid to a file; the test kills that pid itself if the runner did not (so a
/// regression fails the test without leaving a `sleep 600` behind). Waits are bounded only against a hang.
@Suite struct PluginProcessGroupTests {
    static let envelope =
        #"{"body": {"status": "ok", "output": {"done": true}}, "version": "v1", "type": "action_event"}"#

    func start() -> StepStart { StepStart(step: .action("x"), input: [:], meta: ["jobId": "j1"]) }

    /// A temporary file for the child's pid, and cleanup that kills that pid whatever happened.
    func withPidFile(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-child-\(UUID().uuidString)").path
        defer {
            if let pid = ProcessTable.pid(inFile: path), ProcessTable.isAlive(pid) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: path)
        }
        try await body(path)
    }

    /// The body's value, or nil when it has not returned after 120 s (a hang). Unlike `withTimeout` it does not
    /// wait for the body to end, so a runner that ignores cancellation cannot stall the test; it is left running.
    func valueWithinBound<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T? {
        let outcome = Outcome<T>()
        Task { outcome.set(await body()) }
        _ = await waitFor(seconds: 120) { outcome.value != nil }
        return outcome.value
    }

    /// The step's event, or nil when the runner is still busy after the bound.
    func run(_ script: String, timeout: Duration) async -> StepEvent? {
        let runner = ProcessPluginRunner(plugin: TestPlugins.shell(script))
        let start = start()
        return await valueWithinBound { await runner.run(start, timeout: timeout) }
    }

    /// Starts `script` through the launcher with /dev/null as its stdin, stdout and stderr.
    func launch(_ script: String) throws -> PluginProcess {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        return try PluginProcess.spawn(
            command: ["/bin/sh", "-c", script], environment: ExternalPlugin.minimalEnvironment,
            workingDirectory: nil, stdin: null, stdout: null, stderr: null)
    }

    /// A group that ignores SIGTERM (the shell and its children inherit the ignored disposition) is ended with
    /// SIGKILL once the grace period has passed, child included.
    @Test func theLauncherKillsAGroupThatIgnoresSIGTERMAfterTheGrace() async throws {
        try await withPidFile { pidFile in
            let process = try launch("trap '' TERM; sleep 600 & echo $! > \(pidFile); while :; do sleep 1; done")
            #expect(await waitFor { ProcessTable.pid(inFile: pidFile) != nil })
            let child = try #require(ProcessTable.pid(inFile: pidFile))
            let stopping = ContinuousClock.now
            let stopped = await valueWithinBound { await process.stop(grace: .milliseconds(500)) }
            #expect(stopped != nil, "stop(grace:) did not return")
            #expect(ContinuousClock.now - stopping >= .milliseconds(500), "SIGKILL came before the grace period")
            #expect(process.termination == .signalled(SIGKILL))
            #expect(await waitFor { !ProcessTable.isAlive(child) }, "the child \(child) is still running")
        }
    }

    /// A group that honours SIGTERM ends with it: no SIGKILL is needed (the grace period is long).
    @Test func theLauncherEndsAGroupWithSIGTERMFirst() async throws {
        try await withPidFile { pidFile in
            let process = try launch("sleep 600 & echo $! > \(pidFile); wait")
            #expect(await waitFor { ProcessTable.pid(inFile: pidFile) != nil })
            let child = try #require(ProcessTable.pid(inFile: pidFile))
            let stopped = await valueWithinBound { await process.stop(grace: .seconds(600)) }
            #expect(stopped != nil, "stop(grace:) did not return")
            #expect(process.termination == .signalled(SIGTERM))
            #expect(await waitFor { !ProcessTable.isAlive(child) }, "the child \(child) is still running")
        }
    }

    @Test func aPluginThatLeavesAChildBehindEndsItsStepAndTheChild() async throws {
        try await withPidFile { pidFile in
            // The child inherits stdout: before process groups, the step waited for it (600 s).
            let script = "cat >/dev/null; sleep 600 & echo $! > \(pidFile); echo '\(Self.envelope)'"
            let event = try #require(await run(script, timeout: .seconds(600)), "the step waited for the child")
            #expect(event.status == .ok, "\(event.error ?? "")")
            #expect(event.output == ["done": true])
            let child = try #require(ProcessTable.pid(inFile: pidFile))
            #expect(await waitFor { !ProcessTable.isAlive(child) }, "the plugin's child \(child) is still running")
        }
    }

    @Test func aPluginPastItsDeadlineIsKilledWithItsChildren() async throws {
        try await withPidFile { pidFile in
            let script = "cat >/dev/null; sleep 600 & echo $! > \(pidFile); sleep 600"
            let event = try #require(await run(script, timeout: .seconds(2)), "the step outlived its deadline")
            #expect(event.status == .error)
            #expect(event.errorKind == .timeout)
            let child = try #require(ProcessTable.pid(inFile: pidFile))
            #expect(await waitFor { !ProcessTable.isAlive(child) }, "the plugin's child \(child) is still running")
        }
    }

    /// A process that leaves the group (a new session) cannot be killed with it, but the stdout pipe it holds
    /// does not keep the step waiting: the output is read until the plugin exits and a short grace after.
    @Test func aPipeHeldOpenOutsideTheGroupDoesNotHoldTheStep() async throws {
        try await withPidFile { pidFile in
            let script =
                "cat >/dev/null; setsid sh -c 'echo $$ > \(pidFile); exec sleep 600' & "
                + "while [ ! -s \(pidFile) ]; do :; done; echo '\(Self.envelope)'"
            let event = try #require(await run(script, timeout: .seconds(600)), "the step waited for the pipe")
            #expect(event.status == .ok, "\(event.error ?? "")")
            #expect(event.output == ["done": true])
        }
    }

    @Test func aCancelledTriggerEndsWithEverythingItStarted() async throws {
        try await withPidFile { pidFile in
            let plugin = TestPlugins.shell("cat >/dev/null; sleep 600 & echo $! > \(pidFile); sleep 600")
            let start = StepStart(step: .trigger("t"), input: [:])
            let trigger = Task {
                await ExternalTriggerProcess.run(plugin: plugin, start: start, logger: Logger(label: "test"))
            }
            #expect(await waitFor { ProcessTable.pid(inFile: pidFile) != nil }, "the trigger never started its child")
            let child = try #require(ProcessTable.pid(inFile: pidFile))
            trigger.cancel()
            let ended = await valueWithinBound { await trigger.value }
            #expect(ended?.status == .ok, "a cancelled trigger ends quietly")
            #expect(await waitFor { !ProcessTable.isAlive(child) }, "the trigger's child \(child) is still running")
        }
    }

    @Test func aTriggerThatExitsTakesItsChildrenWithIt() async throws {
        try await withPidFile { pidFile in
            let plugin = TestPlugins.shell("cat >/dev/null; sleep 600 & echo $! > \(pidFile); exit 3")
            let event = await valueWithinBound {
                await ExternalTriggerProcess.run(
                    plugin: plugin, start: StepStart(step: .trigger("t"), input: [:]),
                    logger: .init(label: "test"))
            }
            #expect(
                event?.error?.hasPrefix("the trigger process exited with status 3") == true,
                "\(String(describing: event))")
            let child = try #require(ProcessTable.pid(inFile: pidFile))
            #expect(await waitFor { !ProcessTable.isAlive(child) }, "the trigger's child \(child) is still running")
        }
    }
}

/// A value set once by another task.
private final class Outcome<T: Sendable>: Sendable {
    private let state = Mutex<T?>(nil)

    var value: T? { state.withLock { $0 } }

    func set(_ value: T) { state.withLock { $0 = value } }
}
