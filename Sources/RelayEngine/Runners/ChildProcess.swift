import Foundation
import Synchronization

/// A child process with its stdin, stdout and stderr, run to completion or until a deadline. Pipes are read on
/// dedicated dispatch threads (blocking reads never run on Swift's cooperative pool).
final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is configured before launch and afterwards only touched through Foundation's
    // thread-safe `terminate`, `processIdentifier` and termination handler.
    struct Outcome: Sendable {
        enum Ending: Sendable, Equatable {
            case exited(Int32)
            case signalled(Int32)
            case timedOut
        }
        var ending: Ending
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    private let process = Process()

    init(command: [String], environment: [String: String], workingDirectory: String?) {
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    }

    /// Runs with `input` on stdin; kills the process (SIGTERM, then SIGKILL after a grace period) at the deadline.
    func run(input: [UInt8], timeout: Duration, killGrace: Duration = .seconds(2)) async throws -> Outcome {
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr

        let exited = ExitLatch()
        process.terminationHandler = { _ in exited.signal() }
        try process.run()

        async let out = ChildProcess.readAll(stdout.fileHandleForReading)
        async let err = ChildProcess.readAll(stderr.fileHandleForReading)
        DispatchQueue.global().async {
            // Writing can block on a full pipe when the child does not read: keep it off the caller.
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
            try? stdin.fileHandleForWriting.close()
        }

        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await exited.wait()
                return !Task.isCancelled || exited.isSignalled
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        if !finished {
            process.terminate()
            let pid = process.processIdentifier
            let grace = Task {
                try await Task.sleep(for: killGrace)
                kill(pid, SIGKILL)
            }
            await exited.wait()
            grace.cancel()
        }
        let stdoutBytes = await out
        let stderrBytes = await err
        let ending: Outcome.Ending
        if !finished {
            ending = .timedOut
        } else if process.terminationReason == .uncaughtSignal {
            ending = .signalled(process.terminationStatus)
        } else {
            ending = .exited(process.terminationStatus)
        }
        return Outcome(ending: ending, stdout: stdoutBytes, stderr: stderrBytes)
    }

    private static func readAll(_ handle: FileHandle) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let data = handle.readDataToEndOfFile()
                continuation.resume(returning: Array(data))
            }
        }
    }
}

/// Signalled once when the process exits; any number of waiters.
final class ExitLatch: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    var isSignalled: Bool { state.withLock { $0.done } }

    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when signalled, or when the waiting task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.done || Task.isCancelled { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            // Wake every waiter; those whose task is not cancelled re-check `isSignalled` as needed.
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }
}
