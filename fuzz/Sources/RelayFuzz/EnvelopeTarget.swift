import RelayCore

/// Envelopes as a plugin prints them on stdout: a stream of concatenated JSON values with log lines and other text
/// between them, read the way EnvelopeReader (RelayEngine, internal) reads it — each value that is a v1 message
/// counts, anything else is skipped up to the next `{`. Invariants:
/// - the reading loop ends, and every step moves forward;
/// - a V1Message reads back from its own JSON, also through compact JSON text;
/// - StepStart and StepEvent reach a fixed point after one normalisation: reading what they write gives the same
///   value back.
enum EnvelopeTarget {
    static func run(_ bytes: [UInt8]) {
        var parser = JSONParser(bytes: bytes)
        var steps = 0
        while !parser.atEnd() {
            steps += 1
            fuzzCheck(steps <= bytes.count + 1, "the reading loop did not end after \(steps) steps")
            let start = parser.offset
            do throws(JSONParseError) {
                let value = try parser.parseValue()
                fuzzCheck(parser.offset > start, "a value was read without moving forward")
                check(value)
            } catch {
                parser.seek(to: start + 1)
                if !parser.skip(to: UInt8(ascii: "{")) { break }
                fuzzCheck(parser.offset > start, "resynchronising did not move forward")
            }
        }
    }

    static func check(_ value: JSONValue) {
        guard let message = try? V1Message(json: value) else { return }
        fuzzCheck((try? V1Message(json: message.json)) == message, "a message does not read back from its JSON")
        // Plugins' replies are read Python-style: Infinity and NaN have no strict JSON to survive as.
        if !FuzzJSON.containsNonFinite(message.json) {
            let text = JSONWriter.compact.string(message.json)
            let again = try? JSONParser.parse(text)
            fuzzCheck(
                again.map { FuzzJSON.identical($0, message.json, keyOrder: true) } ?? false,
                "a message does not survive compact JSON: \(text.prefix(400))")
        }
        if let start = try? StepStart(message: message) {
            let normal = readBack(start)
            fuzzCheck(normal.map { readBack($0) == $0 } ?? false, "StepStart is not stable: \(excerpt(message.json))")
        }
        if let event = try? StepEvent(body: message.body) {
            let normal = try? StepEvent(body: event.body)
            fuzzCheck(
                normal.map { (try? StepEvent(body: $0.body)) == $0 } ?? false,
                "StepEvent is not stable: \(excerpt(message.json))")
        }
    }

    static func readBack(_ start: StepStart) -> StepStart? { try? StepStart(message: start.message) }
}
