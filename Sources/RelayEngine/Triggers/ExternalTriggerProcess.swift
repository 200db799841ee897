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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: plugin.command[0])
        process.arguments = Array(plugin.command.dropFirst()) + ["run"]
        process.environment = plugin.environment
        if let directory = plugin.workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdin = Pipe()
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("relay-trigger-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: logURL) }
        guard let log = try? FileHandle(forWritingTo: logURL) else { return .failure("cannot create the trigger's log file") }
        process.standardInput = stdin
        process.standardOutput = log
        process.standardError = log
        let exited = ExitLatch()
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            return .failure("could not start the trigger (\(plugin.command.joined(separator: " "))): \(error.localizedDescription)")
        }
        try? log.close()
        stdin.fileHandleForWriting.write(Data(JSONWriter.compact.bytes(start.message.json) + [0x0A]))
        try? stdin.fileHandleForWriting.close()
        await withTaskCancellationHandler {
            await exited.wait()
        } onCancel: {
            process.terminate()
        }
        if Task.isCancelled {
            await exited.wait()
            return .success([:])
        }
        let output = (try? Data(contentsOf: logURL)).map { String(decoding: $0.suffix(800), as: UTF8.self) } ?? ""
        if let envelope = try? EnvelopeReader.lastEnvelope(in: Array(output.utf8)), let event = try? StepEvent(body: envelope.body) {
            return event.status == .ok ? .failure("the trigger process ended") : event
        }
        return .failure("the trigger process exited with status \(process.terminationStatus); its last output: \(output.trimmingCharacters(in: .whitespacesAndNewlines).suffix(300))")
    }
}
