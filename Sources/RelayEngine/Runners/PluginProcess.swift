import CProcessSpawn
import Foundation
import RelayCore
import Synchronization

/// A plugin's process, started as the leader of its own process group so that everything it starts (a shell's
/// children, gunicorn's workers, a `sleep` left in the background) can be ended with it: when the leader exits,
/// for whatever reason, the whole group is killed before the leader is reaped.
///
/// Why posix_spawn (through a small C shim) and not Foundation's `Process` or swift-subprocess: `Process` reaps
/// the child as soon as it exits, so its group cannot be killed before the pid (the group's id) is free for reuse,
/// and it gives no say over which descriptors the child inherits; swift-subprocess could, but brings a second
/// process-management runtime (its own reaping thread, async I/O, teardown model) for one flag.
/// `POSIX_SPAWN_SETPGROUP` is one flag in a call that also closes every other descriptor and resets signal
/// dispositions; a thread per process waits for the leader without reaping it.
final class PluginProcess: Sendable {
    enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal)"
            }
        }
    }

    /// The leader's pid, which is also the group's id.
    let pid: pid_t
    /// nil while the leader runs (or is exiting and not yet reaped): the group may be signalled only then, since
    /// the leader's pid, and so the group id, cannot be reused before the leader is reaped.
    private let state = Mutex<Termination?>(nil)
    private let exited = ExitLatch()

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `command` (its first element an executable path, relative to the current directory) with the given
    /// descriptors as its stdin, stdout and stderr (the caller closes its copies).
    static func spawn(
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
        let reaper = Thread { process.waitAndReap() }
        reaper.name = "relay-reaper-\(pid)"
        reaper.start()
        return process
    }

    /// How the leader ended, or nil while it runs.
    var termination: Termination? { state.withLock { $0 } }

    var isRunning: Bool { termination == nil }

    /// Sends `signal` to every process of the group, and to the leader itself in case it moved to another group,
    /// unless the leader has already been reaped (by then the group was killed).
    func signalGroup(_ signal: Int32) {
        state.withLock { termination in
            guard termination == nil else { return }
            _ = kill(-pid, signal)
            _ = kill(pid, signal)
        }
    }

    /// Returns when the leader has exited and its group has been killed, or when the calling task is cancelled.
    func waitForExit() async {
        await exited.wait()
    }

    /// Ends the group: SIGTERM to every process, SIGKILL to what is left after `grace`; returns when the leader
    /// has been reaped, also in a cancelled task (shutdown is often one).
    func stop(grace: Duration) async {
        guard isRunning else { return }
        signalGroup(SIGTERM)
        let kill = DispatchWorkItem { self.signalGroup(SIGKILL) }
        let (seconds, attoseconds) = grace.components
        DispatchQueue.global().asyncAfter(
            deadline: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)),
            execute: kill)
        await exited.waitIgnoringCancellation()
        kill.cancel()
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
