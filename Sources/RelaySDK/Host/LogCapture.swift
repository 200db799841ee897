import Foundation
import Logging
import Synchronization

/// Collects a step's log lines for the `log` field of its event (and forwards them to another handler if given).
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// The lines as one string, each ending in a newline, as the runtime writes `log`.
    var text: String { lines.withLock { $0.map { $0 + "\n" }.joined() } }

    func logger(label: String, forwardingTo base: Logger? = nil) -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(capture: self, forward: base) }
        logger.logLevel = base?.logLevel ?? .info
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    let forward: Logger?
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime])
        capture.append("\(time) - \(event.level.rawValue.uppercased()): \(event.message)")
        forward?.log(
            level: event.level, event.message, metadata: event.metadata, source: event.source,
            file: event.file, function: event.function, line: event.line)
    }
}
