import Foundation
import RelayCore

/// Finds the v1 event envelope in what a plugin printed: the runtime may print log lines and other JSON values
/// before it, so stdout is read as a stream of JSON values and the last `<x>_event` envelope wins. Text that is not
/// JSON is skipped. Numbers are read as Python's `json` writes them (`Infinity`, `NaN`), so that a result with one
/// gets a clear error downstream instead of going unread.
///
/// JSON beyond `JSONLimits` (nested too deep, an integer of too many digits) is an error, not text to skip: the
/// plugin meant it as JSON, and scanning on inside it would cost time for every nested value.
enum EnvelopeReader {
    static func lastEnvelope(in bytes: [UInt8]) throws(JSONParseError) -> V1Message? {
        var parser = JSONParser(bytes: bytes)
        parser.allowsNonFiniteNumbers = true
        // Every '{' of text that is not JSON is a syntax error: locating each would cost O(offset).
        parser.locatesSyntaxErrors = false
        var found: V1Message?
        while !parser.atEnd() {
            let start = parser.offset
            do {
                let value = try parser.parseValue()
                if let message = try? V1Message(json: value),
                    message.kind.rawValue.hasSuffix("_event") || message.kind == .connectionTest
                {
                    found = message
                }
            } catch  where error.kind == .limit {
                throw error
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
