import CProcessSpawn
import Foundation
import RelayCore
import Synchronization

/// Relay's one process launcher: a child process (a plugin, a trigger, a warm plugin server, a bench's `relay worker`)
/// started as the leader of its own process group so that everything it starts (a shell's children, gunicorn's
/// workers, a `sleep` left in the background) can be ended with it: when the leader exits, for whatever reason, the
/// whole group is killed before the leader is reaped. `stop(grace:)` and `terminate(grace:)` are the one
/// implementation of "SIGTERM the group, then SIGKILL after a grace period"; waiting is async (a latch signalled by
/// the process's reaper thread), never a blocking wait on the cooperative pool.
///
/// Why posix_spawn through a small C shim (`CProcessSpawn`) and not Foundation's `Process` or swift-subprocess:
/// `Process` reaps the child as soon as it exits and gives no say over which descriptors the child inherits.
/// swift-subprocess 1.0.2 (checked on Linux, Swift 6.3.1) can start a child in a new group
/// (`PlatformOptions.processGroupID = 0`, posix_spawn with `POSIX_SPAWN_SETPGROUP`), signal the group
/// (`Execution.send(signal:toProcessGroup:)`, `TeardownStep.gracefulShutDown(toProcessGroup:allowedDuration:)`),
/// close inherited descriptors and read pipes on its own epoll thread, but not all that the runners need:
/// - its Linux monitor thread reaps the leader itself (`reapProcess`: `waitid(WEXITED)` as soon as the pidfd
///   fires) and exposes no point between exit and reap, so the group could only be killed after its id is free for
///   reuse, where Relay kills it while the zombie leader still holds the id;
/// - a process lives only as long as the `run(_:input:output:error:body:)` closure (the call returns after the
///   child has terminated; cancelling it runs the teardown): a warm plugin server kept across jobs and killed from
///   `deinit`, a trigger process and the bench's workers would each need an unstructured task parked in a closure;
/// - collected output past its `limit` throws `outputLimitExceeded`, where a step reads on and drops past 64 MiB
///   (`PipeCollector`), so that the runners would have to read its streams themselves anyway.
/// It would also bring a second process-management runtime (its own monitor thread, SIGCHLD/pidfd handling,
/// teardown model) for what is here one C call and one thread per process.
public final class PluginProcess: Sendable {
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal)"
            }
        }
    }

    /// The leader's pid, which is also the group's id.
    public let pid: pid_t
    /// nil while the leader runs (or is exiting and not yet reaped): the group may be signalled only then, since
    /// the leader's pid, and so the group id, cannot be reused before the leader is reaped.
    private let state = Mutex<Termination?>(nil)
    private let exited = ExitLatch()

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `command` (its first element an executable path, relative to the current directory) with the given
    /// descriptors as its stdin, stdout and stderr (the caller closes its copies; every other descriptor is closed
    /// in the child). `environment` is the child's whole environment: nothing is inherited.
    public static func spawn(
        command: [String], environment: [String: String], workingDirectory: String?,
        stdin: Int32, stdout: Int32, stderr: Int32
    ) throws(RelayError) -> PluginProcess {
        PipeDescriptors.brokenPipesIgnored
        guard let executable = command.first else { throw RelayError(.configuration, "an empty plugin command") }
        // As Foundation's Process resolves it: against Relay's current directory, not the plugin's.
        let path = URL(fileURLWithPath: executable).path
        let arguments = CStringArray([path] + command.dropFirst())
        let variables = CStringArray(environment.map { "\($0.key)=\($0.value)" })
        var pid: pid_t = 0
        let status = withExtendedLifetime((arguments, variables)) {
            relay_spawn_process_group(
                &pid, path, arguments.pointers, variables.pointers, workingDirectory, stdin, stdout, stderr)
        }
        guard status == 0 else {
            throw RelayError(.plugin, "cannot start \(path): \(String(cString: strerror(status)))")
        }
        let process = PluginProcess(pid: pid)
        do {
            try DetachedThread.start(name: "relay-reaper") { process.waitAndReap() }
        } catch {
            // Nothing would reap it: its group is ended and it is reaped here (at once: SIGKILL is not caught).
            process.signalGroup(SIGKILL)
            process.waitAndReap()
            throw error
        }
        return process
    }

    /// How the leader ended, or nil while it runs.
    public var termination: Termination? { state.withLock { $0 } }

    public var isRunning: Bool { termination == nil }

    /// Sends `signal` to every process of the group, and to the leader itself in case it moved to another group,
    /// unless the leader has already been reaped (by then the group was killed).
    public func signalGroup(_ signal: Int32) {
        state.withLock { termination in
            guard termination == nil else { return }
            _ = kill(-pid, signal)
            _ = kill(pid, signal)
        }
    }

    /// Returns when the leader has exited and its group has been killed, or when the calling task is cancelled.
    public func waitForExit() async {
        await exited.wait()
    }

    /// Ends the group: SIGTERM to every process, SIGKILL to what is left after `grace`; returns when the leader
    /// has been reaped, also in a cancelled task (shutdown is often one).
    public func stop(grace: Duration) async {
        guard isRunning else { return }
        let kill = terminate(grace: grace)
        await exited.waitIgnoringCancellation()
        kill.cancel()
    }

    /// Starts ending the group without waiting: SIGTERM to every process now, SIGKILL to what is left after
    /// `grace` (a no-op if the leader has been reaped by then: its group was killed with it). The returned item
    /// cancels the SIGKILL.
    @discardableResult
    public func terminate(grace: Duration) -> DispatchWorkItem {
        signalGroup(SIGTERM)
        let kill = DispatchWorkItem { self.signalGroup(SIGKILL) }
        let (seconds, attoseconds) = grace.components
        DispatchQueue.global().asyncAfter(
            deadline: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)),
            execute: kill)
        return kill
    }

    /// Runs on the process's own thread: waits for the leader to exit without reaping it, kills its group while
    /// the group id is still reserved by the zombie leader, then reaps the leader.
    private func waitAndReap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        state.withLock { termination in
            _ = kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
            let signal = status & 0x7f
            termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        }
        exited.signal()
    }
}

/// A NULL-terminated array of C strings that lives as long as the value.
private final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        var index = 0
        while let pointer = pointers[index] {
            free(pointer)
            index += 1
        }
        pointers.deallocate()
    }
}
