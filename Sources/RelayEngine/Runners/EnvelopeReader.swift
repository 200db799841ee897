import RelayCore

/// Finds the v1 event envelope in what a plugin printed: the runtime may print log lines and other JSON values
/// before it, so stdout is read as a stream of JSON values and the last `<x>_event` envelope wins. Text that is not
/// JSON is skipped.
enum EnvelopeReader {
    static func lastEnvelope(in bytes: [UInt8]) -> V1Message? {
        var parser = JSONParser(bytes: bytes)
        var found: V1Message?
        while !parser.atEnd() {
            let start = parser.offset
            do {
                let value = try parser.parseValue()
                if let message = try? V1Message(json: value), message.kind.rawValue.hasSuffix("_event") || message.kind == .connectionTest {
                    found = message
                }
            } catch {
                // Not JSON here: resume at the next '{' after where this value started.
                parser.seek(to: start + 1)
                if !parser.skip(to: UInt8(ascii: "{")) { break }
            }
        }
        return found
    }

    /// The first characters of some output, for error messages.
    static func excerpt(_ bytes: [UInt8], limit: Int = 300) -> String {
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return "nothing" }
        return "\"" + text + (bytes.count > limit ? "…" : "") + "\""
    }
}

import Foundation
