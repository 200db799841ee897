/// The lexical parts of SQL text that `?` placeholders and `;` separators must not be looked for in: string
/// literals ('…', E'…'), quoted identifiers ("…"), dollar-quoted strings ($tag$…$tag$), comments (-- and /* */,
/// nested as PostgreSQL nests them).
enum PostgresSQLText {
    /// `sql` with each `?` outside literals, identifiers and comments numbered `$1`, `$2`, …, and how many there were.
    static func numberingPlaceholders(_ sql: String) -> (sql: String, count: Int) {
        var output: [UInt8] = []
        output.reserveCapacity(sql.utf8.count + 8)
        var count = 0
        scan(sql) { byte, kind in
            if kind == .code && byte == UInt8(ascii: "?") {
                count += 1
                output.append(UInt8(ascii: "$"))
                output.append(contentsOf: String(count).utf8)
            } else {
                output.append(byte)
            }
        }
        return (String(decoding: output, as: UTF8.self), count)
    }

    /// The statements of `sql` (separated by `;` outside literals, identifiers and comments), without those that
    /// are only blanks and comments.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current: [UInt8] = []
        var hasCode = false
        func finish() {
            if hasCode { statements.append(String(decoding: current, as: UTF8.self)) }
            current.removeAll(keepingCapacity: true)
            hasCode = false
        }
        scan(sql) { byte, kind in
            current.append(byte)
            if kind == .code && byte == UInt8(ascii: ";") {
                finish()
            } else if kind == .quoted || (kind == .code && !(byte == 0x20 || (0x09...0x0D).contains(byte))) {
                hasCode = true
            }
        }
        finish()
        return statements
    }

    private enum Kind { case code, quoted, comment }

    /// Calls `visit` with every byte of `sql` and whether it is code, inside a literal or identifier, or a comment.
    /// Iterative, linear in the length: no recursion however deeply comments nest.
    private static func scan(_ sql: String, _ visit: (UInt8, Kind) -> Void) {
        let bytes = Array(sql.utf8)
        var index = 0
        func byte(at offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func copy(_ count: Int, _ kind: Kind = .quoted) {
            for _ in 0..<count where index < bytes.count {
                visit(bytes[index], kind)
                index += 1
            }
        }
        while index < bytes.count {
            let current = bytes[index]
            switch current {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // '' and "" inside are the quote itself; E'…' also escapes with backslashes.
                let escapesBackslash =
                    current == UInt8(ascii: "'") && index > 0
                    && (bytes[index - 1] == UInt8(ascii: "E") || bytes[index - 1] == UInt8(ascii: "e"))
                copy(1)
                while index < bytes.count {
                    if escapesBackslash && bytes[index] == UInt8(ascii: "\\") {
                        copy(2)
                    } else if bytes[index] == current {
                        if byte(at: 1) == current {
                            copy(2)
                        } else {
                            copy(1)
                            break
                        }
                    } else {
                        copy(1)
                    }
                }
            case UInt8(ascii: "-") where byte(at: 1) == UInt8(ascii: "-"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { copy(1, .comment) }
            case UInt8(ascii: "/") where byte(at: 1) == UInt8(ascii: "*"):
                var depth = 0
                repeat {
                    if bytes[index] == UInt8(ascii: "/") && byte(at: 1) == UInt8(ascii: "*") {
                        depth += 1
                        copy(2, .comment)
                    } else if bytes[index] == UInt8(ascii: "*") && byte(at: 1) == UInt8(ascii: "/") {
                        depth -= 1
                        copy(2, .comment)
                    } else {
                        copy(1, .comment)
                    }
                } while depth > 0 && index < bytes.count
            case UInt8(ascii: "$"):
                // $tag$ or $$ opens a dollar-quoted string (a tag is letters, digits, _; not after an identifier
                // character, and not starting with a digit: $1 is a parameter).
                var end = index + 1
                while end < bytes.count && isTagByte(bytes[end]) { end += 1 }
                let followsIdentifier = index > 0 && isTagByte(bytes[index - 1])
                let startsWithDigit = end > index + 1 && bytes[index + 1] >= 0x30 && bytes[index + 1] <= 0x39
                guard end < bytes.count, bytes[end] == UInt8(ascii: "$"), !followsIdentifier, !startsWithDigit else {
                    visit(current, .code)
                    index += 1
                    continue
                }
                let tag = bytes[index...end]
                copy(tag.count)
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "$") && bytes[index...].starts(with: tag) {
                        copy(tag.count)
                        break
                    }
                    copy(1)
                }
            default:
                visit(current, .code)
                index += 1
            }
        }
    }

    private static func isTagByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
            || byte >= 0x80
    }
}
