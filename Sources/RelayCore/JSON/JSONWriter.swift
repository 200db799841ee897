/// Writes JSON text exactly as Python's `json.dumps` does for the same options, so that Relay's output is
/// byte-identical to the InsightConnect tools' (the reference schemas are `json.dumps(indent=1, sort_keys=True)`).
public struct JSONWriter: Sendable {
    /// Spaces per nesting level; `nil` writes everything on one line.
    public var indent: Int?
    /// Object keys in code-point order (Python's `sort_keys=True`); otherwise in the object's own order.
    public var sortKeys: Bool
    /// Escape every non-ASCII character as `\uXXXX` (Python's default `ensure_ascii=True`).
    public var ensureASCII: Bool
    /// Python's default separators (`", "` and `": "`) on one line, or none (`","` and `":"`).
    public var compactSeparators: Bool

    public init(indent: Int? = nil, sortKeys: Bool = false, ensureASCII: Bool = false, compactSeparators: Bool = true) {
        self.indent = indent
        self.sortKeys = sortKeys
        self.ensureASCII = ensureASCII
        self.compactSeparators = compactSeparators
    }

    /// One line, no spaces, keys in order: for the wire.
    public static let compact = JSONWriter()
    /// `json.dumps(value)`: Python's defaults (`", "` and `": "`, ASCII only, keys in order).
    public static let python = JSONWriter(ensureASCII: true, compactSeparators: false)
    /// `json.dumps(value, indent=1, sort_keys=True)`: the layout of the reference schema files.
    public static let reference = JSONWriter(indent: 1, sortKeys: true, ensureASCII: true, compactSeparators: false)
    /// Two-space indentation for people, keys in order.
    public static let pretty = JSONWriter(indent: 2, ensureASCII: false, compactSeparators: false)

    public func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    /// The JSON text as UTF-8 bytes.
    public func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, level: 0, into: &out)
        return out
    }

    private func write(_ value: JSONValue, level: Int, into out: inout [UInt8]) {
        switch value {
        case .null: Self.append("null", to: &out)
        case .bool(let b): Self.append(b ? "true" : "false", to: &out)
        case .int(let i): Self.append(i, to: &out)
        case .bigInt(let b): out += String(b).utf8
        case .double(let d): out += JSONWriter.pythonRepr(d).utf8
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty {
                Self.append("[]", to: &out)
                return
            }
            out.append(UInt8(ascii: "["))
            // (By index: each item written where the array keeps it, not copied out by an iterator.)
            for index in items.indices {
                if index > 0 { writeItemSeparator(into: &out) }
                newline(level + 1, into: &out)
                write(items[index], level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty {
                Self.append("{}", to: &out)
                return
            }
            out.append(UInt8(ascii: "{"))
            func member(_ offset: Int, _ key: String, _ value: JSONValue) {
                if offset > 0 { writeItemSeparator(into: &out) }
                newline(level + 1, into: &out)
                writeString(key, into: &out)
                writeKeySeparator(into: &out)
                write(value, level: level + 1, into: &out)
            }
            if sortKeys {
                for (offset, key) in object.keys.sorted(by: JSONWriter.codePointOrder).enumerated() {
                    member(offset, key, object[key]!)
                }
            } else {
                // In the object's own order (OrderedDictionary keeps insertion order), each member where it is kept
                // (by index: no array of its keys made, no key looked up again, no member copied out).
                let keys = object.keys.elements
                let values = object.values.elements
                for index in keys.indices { member(index, keys[index], values[index]) }
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    // (Separators, literals and integers are written byte by byte: appending a `String`'s `utf8` costs a retain and
    // a release of the array's buffer, which a writer doing it for every member of every message felt.)

    /// `,`, or `, ` (Python's default separators without an indent).
    private func writeItemSeparator(into out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        if indent == nil && !compactSeparators { out.append(UInt8(ascii: " ")) }
    }

    /// `: `, or `:` (compact, without an indent).
    private func writeKeySeparator(into out: inout [UInt8]) {
        out.append(UInt8(ascii: ":"))
        if indent != nil || !compactSeparators { out.append(UInt8(ascii: " ")) }
    }

    private static func append(_ literal: StaticString, to out: inout [UInt8]) {
        literal.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// An integer's decimal digits (as `String(i)` writes them).
    static func append(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        // The magnitude as unsigned: `Int.min` has none as an `Int`.
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // up to 20 digits, little end first
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            while count > 0 {
                count -= 1
                out.append(buffer[count])
            }
        }
    }

    private func newline(_ level: Int, into out: inout [UInt8]) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    /// Orders strings by Unicode code points, as Python compares `str`.
    public static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    private func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // A native string's bytes where they are (no copy of the string to make it mutable); any other made native.
        if s.utf8.withContiguousStorageIfAvailable({ utf8 in writeEscaped(utf8, into: &out) }) == nil {
            var s = s
            s.withUTF8 { utf8 in writeEscaped(utf8, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A string's UTF-8 bytes, escaped, without its quotes.
    private func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // Fast path: runs of bytes that need no escaping are copied as they are.
        var runStart = 0
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            let needsEscape =
                byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                || (ensureASCII && byte >= 0x7F)
            if !needsEscape {
                index += 1
                continue
            }
            out.append(contentsOf: utf8[runStart..<index])
            if byte >= 0x80 {
                // A multi-byte scalar (only reached with ensureASCII): decode it and write \uXXXX.
                var length = 1
                if byte >= 0xF0 {
                    length = 4
                } else if byte >= 0xE0 {
                    length = 3
                } else if byte >= 0xC0 {
                    length = 2
                }
                length = min(length, utf8.count - index)
                let scalarText = String(
                    decoding: UnsafeBufferPointer(rebasing: utf8[index..<index + length]), as: UTF8.self)
                for scalar in scalarText.unicodeScalars { escapeScalar(scalar, into: &out) }
                index += length
            } else {
                escapeScalar(Unicode.Scalar(byte), into: &out)
                index += 1
            }
            runStart = index
        }
        out.append(contentsOf: utf8[runStart..<utf8.count])
    }

    private func escapeScalar(_ scalar: Unicode.Scalar, into out: inout [UInt8]) {
        switch scalar {
        case "\"": out += "\\\"".utf8
        case "\\": out += "\\\\".utf8
        case "\n": out += "\\n".utf8
        case "\r": out += "\\r".utf8
        case "\t": out += "\\t".utf8
        case "\u{08}": out += "\\b".utf8
        case "\u{0C}": out += "\\f".utf8
        default:
            if scalar.value > 0xFFFF {
                let v = scalar.value - 0x10000
                out += JSONWriter.hex4(0xD800 + (v >> 10)).utf8
                out += JSONWriter.hex4(0xDC00 + (v & 0x3FF)).utf8
            } else {
                out += JSONWriter.hex4(scalar.value).utf8
            }
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// Python's `repr(float)`: the shortest round-tripping digits, fixed notation for decimal exponents in
    /// [-4, 16), scientific (`1e+16`, `1.5e-05`) outside.
    public static func pythonRepr(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // A whole number below 10^16 (the most common float a plugin returns): its digits and ".0".
        if value.magnitude < 1e16, value.rounded(.towardZero) == value { return String(Int64(value)) + ".0" }
        // Swift's description is also shortest round-trip: in Python's fixed range, when Swift did not use an
        // exponent, it is already Python's text (`pythonReprTakenApart` gives the same, tested on random values).
        if value.magnitude >= 1e-4, value.magnitude < 1e16 {
            let text = value.description
            if !text.utf8.contains(UInt8(ascii: "e")) { return text }
        }
        return pythonReprTakenApart(value)
    }

    /// `pythonRepr` for a finite, non-zero value, from Swift's digits and exponent taken apart.
    static func pythonReprTakenApart(_ value: Double) -> String {
        var text = value.magnitude.description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        var integerPart = text
        var fraction = ""
        if let dot = text.firstIndex(of: ".") {
            integerPart = String(text[..<dot])
            fraction = String(text[text.index(after: dot)...])
        }
        var digits = integerPart + fraction
        var pointPosition = integerPart.count + exponent // digits before the decimal point
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let decimalExponent = pointPosition - 1
        let sign = value < 0 ? "-" : ""
        if decimalExponent >= -4 && decimalExponent < 16 {
            if pointPosition <= 0 {
                return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
            }
            if pointPosition >= digits.count {
                return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
            }
            let split = digits.index(digits.startIndex, offsetBy: pointPosition)
            return sign + digits[..<split] + "." + digits[split...]
        }
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let expSign = decimalExponent < 0 ? "-" : "+"
        let expDigits = String(abs(decimalExponent))
        return sign + mantissa + "e" + expSign + (expDigits.count < 2 ? "0" + expDigits : expDigits)
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String { JSONWriter.compact.string(self) }
}
