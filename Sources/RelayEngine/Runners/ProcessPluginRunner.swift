import Foundation
import RelayCore

/// Runs each step as a new process: `<command> run` (or `test` for a connection test) with the v1 start message
/// on stdin, the event envelope read from stdout.
public struct ProcessPluginRunner: PluginRunner {
    public let plugin: ExternalPlugin

    public init(plugin: ExternalPlugin) { self.plugin = plugin }

    public func run(_ start: StepStart, timeout: Duration) async -> StepEvent {
        let isTest = start.step == .connectionTest
        let command = plugin.command + [isTest ? "test" : "run"]
        let message = start.message
        let child = ChildProcess(
            command: command, environment: plugin.environment, workingDirectory: plugin.workingDirectory)
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await child.run(input: JSONWriter.compact.bytes(message.json) + [0x0A], timeout: timeout)
        } catch {
            return Self.failure(
                "could not start the plugin (\(plugin.command.joined(separator: " "))): \(error)", kind: .server,
                meta: start.meta)
        }
        return ProcessPluginRunner.event(from: outcome, timeout: timeout, meta: start.meta)
    }

    static func event(from outcome: ChildProcess.Outcome, timeout: Duration, meta: JSONValue) -> StepEvent {
        let stderr = EnvelopeReader.excerpt(outcome.stderr)
        switch outcome.ending {
        case .timedOut:
            return failure("the plugin did not finish within \(timeout) and was killed", kind: .timeout, meta: meta)
        case .signalled(let signal):
            return failure(
                "the plugin crashed (killed by signal \(signal)); stderr: \(stderr)", kind: .server, meta: meta)
        case .exited where outcome.stdoutOverflowed:
            let limit = PipeCollector.defaultLimit >> 20
            return failure(
                "the plugin wrote more than \(limit) MiB on stdout; Relay reads at most that", kind: .server, meta: meta
            )
        case .exited(let status):
            let found: V1Message?
            do {
                found = try EnvelopeReader.lastEnvelope(in: outcome.stdout)
            } catch {
                return failure(
                    "the plugin's reply is JSON beyond what Relay reads: \(error)", kind: .server, meta: meta)
            }
            guard let envelope = found else {
                let stdout = EnvelopeReader.excerpt(outcome.stdout)
                if status != 0 {
                    return failure(
                        "the plugin exited with status \(status) without a v1 event envelope; stdout: "
                            + "\(stdout); stderr: \(stderr)",
                        kind: .server, meta: meta)
                }
                return failure(
                    "the plugin printed no v1 event envelope; expected "
                        + "{\"version\":\"v1\",\"type\":\"<x>_event\",\"body\":{…}} on stdout, found \(stdout)",
                    kind: .server, meta: meta)
            }
            do {
                var event = try StepEvent(body: envelope.body)
                if event.status == .error {
                    event.errorKind = event.exception != nil ? .plugin : .server
                } else if status != 0 {
                    // An ok envelope and a failing exit: trust the envelope, say so in the log.
                    event.log += "relay: the plugin exited with status \(status) after an ok envelope\n"
                }
                return event
            } catch {
                return failure(
                    "the plugin's envelope is malformed: \(error.message); found "
                        + "\(JSONWriter.compact.string(envelope.json).prefix(300))",
                    kind: .server, meta: meta)
            }
        }
    }

    static func failure(_ message: String, kind: StepEvent.ErrorKind, meta: JSONValue) -> StepEvent {
        var event = StepEvent.failure(message, meta: meta)
        event.errorKind = kind
        return event
    }
}
