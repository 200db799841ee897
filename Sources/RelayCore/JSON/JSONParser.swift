import BigInt

/// A strict JSON parser (RFC 8259) that keeps integers apart from floating-point numbers and reports errors with
/// line and column. It can also read a stream of concatenated JSON values, as plugins print on stdout.
///
/// Everything it reads may come from outside, so it has limits (`JSONLimits`): nesting deeper than
/// `maximumDepth` and integers of more than 4,300 digits are errors, and so is a number beyond a double's range
/// (`1e999`), unless `allowsNonFiniteNumbers`. Integers of any size within that are kept exactly.
public struct JSONParser {
    private let bytes: [UInt8]
    private var index: Int = 0
    private var depth = 0
    /// Accept `NaN`, `Infinity` and `-Infinity` as numbers, and numbers beyond a double's range as infinities, as
    /// Python's `json.loads` does.
    public var allowsNonFiniteNumbers = false
    /// Arrays and objects nested deeper than this are an error (the parser never recurses further).
    public var maximumDepth = JSONLimits.maximumDepth
    /// Whether a syntax error carries its line and column. Finding them scans the input from its start, so a
    /// reader that skips text that is not JSON (plugin output) turns this off to keep its cost linear; limit
    /// errors, which end reading, always carry them.
    public var locatesSyntaxErrors = true

    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses one value the way Python's `json.loads` accepts it (non-finite numbers allowed).
    public static func parsePythonStyle(_ text: String) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(text)
        parser.allowsNonFiniteNumbers = true
        return try parser.parseWhole()
    }

    /// `parsePythonStyle` on UTF-8 bytes.
    public static func parsePythonStyle(bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.allowsNonFiniteNumbers = true
        return try parser.parseWhole()
    }

    /// Parses exactly one JSON value; anything but white space after it is an error.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(text)
        return try parser.parseWhole()
    }

    public static func parse(bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseWhole()
    }

    /// One value, then nothing but white space.
    private mutating func parseWhole() throws(JSONParseError) -> JSONValue {
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count { throw error("end of input after the JSON value", found: describeCurrent()) }
        return value
    }

    /// True when only white space is left.
    public mutating func atEnd() -> Bool {
        skipWhitespace()
        return index >= bytes.count
    }

    /// Parses the next value of a stream of concatenated JSON values.
    public mutating func parseValue() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw error("a JSON value", found: "end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "N") where allowsNonFiniteNumbers: return try parseLiteral("NaN", .double(.nan))
        case UInt8(ascii: "I") where allowsNonFiniteNumbers: return try parseLiteral("Infinity", .double(.infinity))
        case UInt8(ascii: "-")
        where allowsNonFiniteNumbers && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "I"):
            index += 1
            return try parseLiteral("Infinity", .double(-.infinity))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("a JSON value", found: describeCurrent())
        }
    }

    /// Skips to the next byte that may start a JSON object (used to resynchronise on garbage between values).
    public mutating func skip(to byte: UInt8) -> Bool {
        while index < bytes.count {
            if bytes[index] == byte { return true }
            index += 1
        }
        return false
    }

    public var offset: Int { index }
    public mutating func seek(to offset: Int) { index = min(max(0, offset), bytes.count) }

    // MARK: - Pieces

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseLiteral(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let utf8 = Array(word.utf8)
        guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 else {
            throw error("a JSON value", found: describeCurrent())
        }
        index += utf8.count
        return value
    }

    private mutating func enterContainer() throws(JSONParseError) {
        guard depth < maximumDepth else {
            throw error(
                "at most \(maximumDepth) levels of nested arrays and objects", found: "deeper nesting", kind: .limit)
        }
        depth += 1
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        index += 1
        var object: JSONObject = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("a string key in an object", found: describeCurrent())
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("':' after an object key", found: describeCurrent())
            }
            index += 1
            object[key] = try parseValue()
            skipWhitespace()
            guard index < bytes.count else { throw error("',' or '}' in an object", found: "end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            } else {
                throw error("',' or '}' in an object", found: describeCurrent())
            }
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            array.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("',' or ']' in an array", found: "end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(array)
            } else {
                throw error("',' or ']' in an array", found: describeCurrent())
            }
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1 // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            index += 1
        }
        var scalars: [UInt8] = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw error("an escape sequence", found: "end of input") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        // A high surrogate must be followed by a low one; a lone one becomes U+FFFD.
                        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        {
                            let save = index
                            index += 2
                            let low = try parseHex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                index = save
                                code = 0xFFFD
                            }
                        } else {
                            code = 0xFFFD
                        }
                    } else if (0xDC00...0xDFFF).contains(code) {
                        code = 0xFFFD
                    }
                    scalars.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
                default:
                    index -= 2
                    throw error("a valid escape sequence", found: describeCurrent())
                }
            default:
                if byte < 0x20 {
                    throw error("a control character to be escaped in a string", found: describeCurrent())
                }
                scalars.append(byte)
                index += 1
            }
        }
        throw error("'\"' closing a string", found: "end of input")
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("four hex digits after \\u", found: "end of input") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("a hex digit after \\u", found: describeCurrent())
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("a digit", found: describeCurrent()) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("a digit after the decimal point", found: describeCurrent())
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("a digit in the exponent", found: describeCurrent())
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger {
            if let int = Int(text) { return .int(int) }
            let digits = text.utf8.count - (text.hasPrefix("-") ? 1 : 0)
            guard digits <= JSONLimits.maximumIntegerDigits else {
                index = start
                let limit = JSONLimits.maximumIntegerDigits
                throw error("an integer of at most \(limit) digits", found: "\(digits) digits", kind: .limit)
            }
            guard let big = BigInt(text) else { throw error("an integer", found: text) }
            return .bigInt(big)
        }
        guard let double = Double(text) else { throw error("a number", found: text) }
        guard double.isFinite || allowsNonFiniteNumbers else {
            index = start
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            throw error("a number within a double's range (±1.7976931348623157e308)", found: shown, kind: .limit)
        }
        return .double(double)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of input" }
        let end = min(bytes.count, index + 12)
        let snippet = String(decoding: bytes[index..<end], as: UTF8.self)
        return "'\(snippet)'"
    }

    private func error(_ expected: String, found: String, kind: JSONParseError.Kind = .syntax) -> JSONParseError {
        var line = 1
        var column = 1
        let scanned = locatesSyntaxErrors || kind == .limit ? min(index, bytes.count) : 0
        for byte in bytes[0..<scanned] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONParseError(expected: expected, found: found, line: line, column: column, offset: index, kind: kind)
    }
}

/// Where and why JSON text could not be parsed.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Whether the text is not JSON at all, or JSON beyond what Relay accepts (`JSONLimits`).
    public enum Kind: Sendable, Equatable {
        case syntax
        case limit
    }

    public var expected: String
    public var found: String
    public var line: Int
    public var column: Int
    public var offset: Int
    public var kind: Kind = .syntax

    public init(expected: String, found: String, line: Int, column: Int, offset: Int, kind: Kind = .syntax) {
        self.expected = expected
        self.found = found
        self.line = line
        self.column = column
        self.offset = offset
        self.kind = kind
    }

    public var description: String { "line \(line), column \(column): expected \(expected), found \(found)" }
}
