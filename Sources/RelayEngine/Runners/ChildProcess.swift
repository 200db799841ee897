import Foundation

/// A plugin process with its stdin, stdout and stderr, run to completion or until a deadline, in its own process
/// group (`PluginProcess`): when it ends, for whatever reason, nothing it started is left running.
final class ChildProcess: Sendable {
    struct Outcome: Sendable {
        enum Ending: Sendable, Equatable {
            case exited(Int32)
            case signalled(Int32)
            case timedOut
        }
        var ending: Ending
        var stdout: [UInt8]
        var stderr: [UInt8]
        /// The plugin wrote more than `PipeCollector.defaultLimit` to stdout; `stdout` is cut there.
        var stdoutOverflowed = false
    }

    let command: [String]
    let environment: [String: String]
    let workingDirectory: String?

    init(command: [String], environment: [String: String], workingDirectory: String?) {
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Runs with `input` on stdin. At the deadline the group gets SIGTERM, and SIGKILL after `killGrace`. When
    /// the process exits first, its group is killed and its output read until the pipes close, for at most
    /// `killGrace` more and never past the deadline (a process that left the group may hold them open).
    func run(input: [UInt8], timeout: Duration, killGrace: Duration = .seconds(2)) async throws -> Outcome {
        let deadline = ContinuousClock.now + timeout
        let stdin = try PipeDescriptors()
        let stdout: PipeDescriptors
        let stderr: PipeDescriptors
        do {
            stdout = try PipeDescriptors()
        } catch {
            stdin.closeBoth()
            throw error
        }
        do {
            stderr = try PipeDescriptors()
        } catch {
            stdin.closeBoth()
            stdout.closeBoth()
            throw error
        }
        // The collector owns the read ends of stdout and stderr from here on, also if this throws; the rest are ours
        // to close if starting fails.
        let others = [stdin.readEnd, stdin.writeEnd, stdout.writeEnd, stderr.writeEnd]
        let collector: PipeCollector
        do {
            collector = try PipeCollector(descriptors: [stdout.readEnd, stderr.readEnd])
        } catch {
            for descriptor in others { close(descriptor) }
            throw error
        }
        let process: PluginProcess
        do {
            process = try PluginProcess.spawn(
                command: command, environment: environment, workingDirectory: workingDirectory,
                stdin: stdin.readEnd, stdout: stdout.writeEnd, stderr: stderr.writeEnd)
        } catch {
            for descriptor in others { close(descriptor) }
            throw error
        }
        // The child has its copies; ours would keep the pipes open after it exits.
        close(stdin.readEnd)
        close(stdout.writeEnd)
        close(stderr.writeEnd)
        PipeDescriptors.writeAllAndClose(input, to: stdin.writeEnd)

        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await process.waitForExit()
                return !process.isRunning
            }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        if !finished { await process.stop(grace: killGrace) }
        let drainUntil = finished ? min(deadline, ContinuousClock.now + killGrace) : ContinuousClock.now
        let outputs = await collector.collected(waitingUntil: drainUntil)
        let ending: Outcome.Ending
        switch process.termination {
        case _ where !finished: ending = .timedOut
        case .signalled(let signal): ending = .signalled(signal)
        case .exited(let status): ending = .exited(status)
        case nil: ending = .timedOut
        }
        return Outcome(
            ending: ending, stdout: outputs[0].bytes, stderr: outputs[1].bytes, stdoutOverflowed: outputs[0].overflowed)
    }
}
