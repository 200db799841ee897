import Foundation
import RelayCore

/// Python's conversions of text, for the Type Converter's error messages and parsing rules.
enum PythonText {
    /// `repr(s)` for a `str`: single quotes unless the text has a single quote and no double quote; backslash
    /// escapes for quotes, `\\`, `\n`, `\r`, `\t`, other control characters and non-printable code points.
    static func repr(_ text: String) -> String {
        let useDouble = text.contains("'") && !text.contains("\"")
        let quote: Character = useDouble ? "\"" : "'"
        var out = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if !isPrintable(scalar) {
                    if scalar.value <= 0xFF {
                        out += "\\x" + hex(scalar.value, width: 2)
                    } else if scalar.value <= 0xFFFF {
                        out += "\\u" + hex(scalar.value, width: 4)
                    } else {
                        out += "\\U" + hex(scalar.value, width: 8)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }

    /// Python's `str.isprintable` for one code point (approximated with Unicode general categories: separators
    /// other than the space, controls, formats, surrogates, private use and unassigned are not printable).
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Python's `str.strip()` with no argument: Unicode white space.
    static func strip(_ text: String) -> Substring {
        var view = Substring(text)
        while let first = view.unicodeScalars.first, isSpace(first) { view = view.dropFirst() }
        while let last = view.unicodeScalars.last, isSpace(last) { view = view.dropLast() }
        return view
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }

    /// The value of a decimal digit in any script (Python's `int()` accepts them all), or nil.
    static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
        guard scalar.properties.numericType == .decimal, let value = scalar.properties.numericValue else { return nil }
        return Int(value)
    }

    /// Python's `int(text)`: optional white space and sign, decimal digits of any script, single underscores
    /// between digits. Nil where Python raises ValueError.
    static func int(_ text: String) -> JSONValue? {
        var body = Array(strip(text).unicodeScalars)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body.removeFirst()
        }
        guard !body.isEmpty, body.first != "_", body.last != "_" else { return nil }
        var digits = negative ? "-" : ""
        var previousUnderscore = false
        for scalar in body {
            if scalar == "_" {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            previousUnderscore = false
            guard let digit = digitValue(scalar) else { return nil }
            digits += String(digit)
        }
        // Any size, as Python's int (the caller bounds the number of digits as Python does).
        return JSONValue.integer(decimal: digits)
    }

    /// Python's `float(text)`: white space, sign, digits (any script) with single underscores between digits,
    /// a decimal point, an exponent, or `inf`/`infinity`/`nan` in any case. Nil where Python raises ValueError.
    static func float(_ text: String) -> Double? {
        let stripped = String(strip(text))
        var ascii = ""
        var previous: Unicode.Scalar?
        let scalars = Array(stripped.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            if scalar == "_" {
                // An underscore is allowed only between two digits.
                guard let before = previous, digitValue(before) != nil, index + 1 < scalars.count,
                    digitValue(scalars[index + 1]) != nil
                else { return nil }
                previous = scalar
                continue
            }
            if let digit = digitValue(scalar) {
                ascii += String(digit)
            } else if scalar.isASCII {
                ascii.unicodeScalars.append(scalar)
            } else {
                return nil
            }
            previous = scalar
        }
        let lower = ascii.lowercased()
        var unsigned = Substring(lower)
        var sign = 1.0
        if let first = unsigned.first, first == "+" || first == "-" {
            sign = first == "-" ? -1 : 1
            unsigned = unsigned.dropFirst()
        }
        if unsigned == "inf" || unsigned == "infinity" { return sign * .infinity }
        if unsigned == "nan" { return .nan }
        // Digits, optional point and fraction, optional exponent: at least one digit in the mantissa.
        guard unsigned.range(of: #"^([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$"#, options: .regularExpression) != nil
        else {
            return nil
        }
        return Double(String(unsigned)).map { sign * $0 }
    }
}
