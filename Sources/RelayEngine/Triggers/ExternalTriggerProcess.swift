import Foundation
import Logging
import RelayCore

/// A runner that starts an external program (so it can run a long-lived trigger process).
public protocol ExternalProcessPlugin: Sendable {
    var externalPlugin: ExternalPlugin { get }
}

extension ProcessPluginRunner: ExternalProcessPlugin {
    public var externalPlugin: ExternalPlugin { plugin }
}

extension WarmPluginRunner: ExternalProcessPlugin {
    public nonisolated var externalPlugin: ExternalPlugin { plugin }
}

/// Runs an external plugin's trigger as InsightConnect does: `<command> run` with the `trigger_start` message on
/// stdin (whose `dispatcher.url` points at Relay's loopback endpoint); the process POSTs each event there and runs
/// until it exits or the task is cancelled (then it is terminated).
enum ExternalTriggerProcess {
    static func run(plugin: ExternalPlugin, start: StepStart, logger: Logger) async -> StepEvent {
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-trigger-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: logURL) }
        let log = open(logURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard log >= 0 else { return .failure("cannot create the trigger's log file") }
        let stdin: PipeDescriptors
        do {
            stdin = try PipeDescriptors()
        } catch {
            close(log)
            return .failure("cannot start the trigger: \(error.message)")
        }
        let process: PluginProcess
        do {
            // Its own process group: when the trigger ends or is cancelled, nothing it started is left running.
            process = try PluginProcess.spawn(
                command: plugin.command + ["run"], environment: plugin.environment,
                workingDirectory: plugin.workingDirectory, stdin: stdin.readEnd, stdout: log, stderr: log)
        } catch {
            for descriptor in [log, stdin.readEnd, stdin.writeEnd] { close(descriptor) }
            return .failure("could not start the trigger (\(plugin.command.joined(separator: " "))): \(error.message)")
        }
        close(log)
        close(stdin.readEnd)
        PipeDescriptors.writeAllAndClose(JSONWriter.compact.bytes(start.message.json) + [0x0A], to: stdin.writeEnd)
        await process.waitForExit()
        if Task.isCancelled {
            await process.stop(grace: .seconds(2))
            return .success([:])
        }
        let output = (try? Data(contentsOf: logURL)).map { String(decoding: $0.suffix(800), as: UTF8.self) } ?? ""
        if let envelope = try? EnvelopeReader.lastEnvelope(in: Array(output.utf8)),
            let event = try? StepEvent(body: envelope.body)
        {
            return event.status == .ok ? .failure("the trigger process ended") : event
        }
        let ending = process.termination.map(\.description) ?? "ended"
        let tail = output.trimmingCharacters(in: .whitespacesAndNewlines).suffix(300)
        return .failure("the trigger process \(ending); its last output: \(tail)")
    }
}
