/// UTF-8 decoding as Python's `bytes.decode("utf-8", errors)`: `strict` reports the first invalid sequence with
/// CPython's message, `replace` puts U+FFFD for each maximal invalid subpart, `ignore` drops it.
enum PythonUTF8 {
    enum Errors: String {
        case strict, replace, ignore
    }

    struct DecodeError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    static func decode(_ bytes: [UInt8], errors: Errors) throws(DecodeError) -> String {
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < bytes.count {
            switch next(bytes, at: index) {
            case .scalar(let scalar, let length):
                scalars.append(scalar)
                index += length
            case .invalid(let length, let reason):
                switch errors {
                case .strict:
                    let end = index + length
                    if length == 1 {
                        let hex = String(bytes[index], radix: 16)
                        throw DecodeError(
                            description:
                                "'utf-8' codec can't decode byte 0x\(hex.count < 2 ? "0" + hex : hex) in "
                                + "position \(index): \(reason)"
                        )
                    }
                    throw DecodeError(
                        description: "'utf-8' codec can't decode bytes in position \(index)-\(end - 1): \(reason)")
                case .replace:
                    scalars.append("\u{FFFD}")
                case .ignore:
                    break
                }
                index += length
            }
        }
        return String(scalars)
    }

    private enum Step {
        case scalar(Unicode.Scalar, Int)
        case invalid(Int, String)
    }

    /// One scalar, or the length of the maximal invalid subpart and CPython's reason for it.
    private static func next(_ bytes: [UInt8], at start: Int) -> Step {
        let first = bytes[start]
        if first < 0x80 { return .scalar(Unicode.Scalar(first), 1) }
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch first {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: return .invalid(1, "invalid start byte")
        }
        var value = UInt32(first) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for offset in 1..<length {
            let position = start + offset
            guard position < bytes.count else { return .invalid(offset, "unexpected end of data") }
            let byte = bytes[position]
            let (minimum, maximum) = offset == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= minimum && byte <= maximum else { return .invalid(offset, "invalid continuation byte") }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        return .scalar(Unicode.Scalar(value)!, length)
    }
}
