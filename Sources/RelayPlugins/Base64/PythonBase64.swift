/// Base64 exactly as Python's `base64.standard_b64decode` / `b64encode` (CPython's `binascii`, non-strict mode),
/// so that the native plugins accept, reject and report the same inputs as the Python originals: characters
/// outside the alphabet are skipped, decoding stops at the padding that completes a quantum, and the error texts
/// are CPython's.
enum PythonBase64 {
    struct DecodeError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)],
                alphabet[Int(n & 63)],
            ]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "="),
            ]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `base64.standard_b64decode(text)` for a `str` argument.
    static func decode(_ text: String) throws(DecodeError) -> [UInt8] {
        guard text.unicodeScalars.allSatisfy(\.isASCII) else {
            throw DecodeError(description: "string argument should contain only ASCII characters")
        }
        return try decode(bytes: Array(text.utf8))
    }

    /// CPython's `binascii.a2b_base64(data, strict_mode=False)`.
    static func decode(bytes data: [UInt8]) throws(DecodeError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count / 4 * 3 + 3)
        var quadPosition = 0
        var leftChar: UInt8 = 0
        var pads = 0
        for byte in data {
            if byte == UInt8(ascii: "=") {
                if quadPosition >= 2 {
                    pads += 1
                    if quadPosition + pads >= 4 { return out } // the quantum is complete: ignore the rest
                }
                continue
            }
            let value = table[Int(byte)]
            if value == 0xFF { continue } // not in the alphabet: skipped in non-strict mode
            pads = 0
            switch quadPosition {
            case 0:
                quadPosition = 1
                leftChar = value
            case 1:
                quadPosition = 2
                out.append(leftChar << 2 | value >> 4)
                leftChar = value & 0x0F
            case 2:
                quadPosition = 3
                out.append(leftChar << 4 | value >> 2)
                leftChar = value & 0x03
            default:
                quadPosition = 0
                out.append(leftChar << 6 | value)
                leftChar = 0
            }
        }
        if quadPosition == 1 {
            let characters = out.count / 3 * 4 + 1
            throw DecodeError(
                description:
                    "Invalid base64-encoded string: number of data characters (\(characters)) cannot be 1 "
                    + "more than a multiple of 4"
            )
        }
        if quadPosition != 0 { throw DecodeError(description: "Incorrect padding") }
        return out
    }
}
