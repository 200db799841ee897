import RelayCore

/// The message of Python's `json.JSONDecodeError` for the same bad text, e.g.
/// `Expecting value: line 1 column 1 (char 0)`.
enum PythonJSONError {
    static func message(for error: any Error, in text: String) -> String {
        guard let error = error as? JSONParseError else { return "\(error)" }
        let bytes = Array(text.utf8)
        var offset = min(error.offset, bytes.count)
        let reason: String
        // Python 3.13 names a trailing comma: `{"a": 1,}` and `[1,]`.
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") || bytes[offset] == UInt8(ascii: "]"),
            let comma = previousSignificant(before: offset, in: bytes), bytes[comma] == UInt8(ascii: ",")
        {
            let container = bytes[offset] == UInt8(ascii: "}") ? "object" : "array"
            return format("Illegal trailing comma before end of \(container)", offset: comma, bytes: bytes)
        }
        switch error.expected {
        case "a JSON value", "a digit", "a digit after the decimal point", "a digit in the exponent":
            reason = "Expecting value"
        case "a string key in an object": reason = "Expecting property name enclosed in double quotes"
        case "':' after an object key": reason = "Expecting ':' delimiter"
        case "',' or '}' in an object", "',' or ']' in an array": reason = "Expecting ',' delimiter"
        case "end of input after the JSON value": reason = "Extra data"
        case "'\"' closing a string":
            reason = "Unterminated string starting at"
            offset = openingQuote(before: offset, in: bytes)
        case "a control character to be escaped in a string": reason = "Invalid control character at"
        case "a valid escape sequence": reason = "Invalid \\escape"
        default: reason = "Expecting value"
        }
        return format(reason, offset: offset, bytes: bytes)
    }

    private static func previousSignificant(before offset: Int, in bytes: [UInt8]) -> Int? {
        var index = offset - 1
        while index >= 0, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index -= 1 }
        return index >= 0 ? index : nil
    }

    private static func format(_ reason: String, offset: Int, bytes: [UInt8]) -> String {
        // Python counts characters (code points), lines from 1, columns from 1.
        let prefix = String(decoding: bytes[0..<offset], as: UTF8.self).unicodeScalars
        let char = prefix.count
        let line = prefix.filter { $0 == "\n" }.count + 1
        let column =
            prefix.count
            - (prefix.lastIndex(of: "\n").map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
        return "\(reason): line \(line) column \(column) (char \(char))"
    }

    /// The offset of the quote that opened the string a parse ended in.
    private static func openingQuote(before end: Int, in bytes: [UInt8]) -> Int {
        var index = 0
        var open = -1
        var inString = false
        while index < end {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                open = index
            }
            index += 1
        }
        return max(open, 0)
    }
}
