import RelayCore

/// Writes JSON values as the block YAML a person would write: mappings and lists indented by two, short lists of
/// plain words in flow style (`[a, b]`), multi-line text as `|` blocks, and every string quoted whenever a YAML
/// reader could take it for something else (`yes`, `12:30`, `0x1F` stay strings).
struct YAMLWriter {
    private(set) var lines: [String] = []
    /// Longest line aimed at (comments are wrapped, flow lists fall back to block style).
    var width = 118

    var text: String { lines.joined(separator: "\n") + "\n" }

    mutating func line(_ text: String) { lines.append(text) }

    /// `# text`, wrapped at `width`; line breaks in `text` become spaces.
    mutating func comment(_ text: String, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        // Every kind of line break (\r\n, U+0085, U+2028, …) and blank: none may end the comment early.
        let words = text.split(whereSeparator: { $0.isWhitespace })
        var current = ""
        for word in words {
            if !current.isEmpty, pad.count + 2 + current.count + 1 + word.count > width {
                lines.append("\(pad)# \(current)")
                current = ""
            }
            current += current.isEmpty ? String(word) : " " + word
        }
        if !current.isEmpty || words.isEmpty { lines.append("\(pad)#\(current.isEmpty ? "" : " " + current)") }
    }

    /// `key: value` at `indent`, the value in block style below when it is not a scalar.
    mutating func entry(_ key: String, _ value: JSONValue, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        let head = "\(pad)\(Self.key(key)):"
        if let inline = Self.inline(value, room: width - head.count - 1) {
            lines.append("\(head) \(inline)")
            return
        }
        switch value {
        case .string(let text):
            if let block = Self.literalBlock(text) {
                lines.append("\(head) \(block.header)")
                let inner = String(repeating: " ", count: indent + 2)
                lines += block.lines.map { $0.isEmpty ? "" : inner + $0 }
            } else {
                lines.append("\(head) \(Self.doubleQuoted(text))")
            }
        case .object(let object):
            lines.append(head)
            for (childKey, child) in object { entry(childKey, child, indent: indent + 2) }
        case .array(let items):
            lines.append(head)
            for item in items { listItem(item, indent: indent + 2) }
        default:
            lines.append("\(head) \(Self.scalar(value))")
        }
    }

    /// `- value` at `indent`.
    mutating func listItem(_ value: JSONValue, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        if let inline = Self.inline(value, room: width - indent - 2) {
            lines.append("\(pad)- \(inline)")
            return
        }
        switch value {
        case .object, .array:
            var nested = YAMLWriter(width: width)
            switch value {
            case .object(let object):
                for (childKey, child) in object { nested.entry(childKey, child, indent: indent + 2) }
            case .array(let items):
                for item in items { nested.listItem(item, indent: indent + 2) }
            default: break
            }
            guard var first = nested.lines.first else { return }
            first = pad + "- " + first.dropFirst(indent + 2)
            lines.append(first)
            lines += nested.lines.dropFirst()
        case .string(let text):
            lines.append("\(pad)- \(Self.doubleQuoted(text))")
        default:
            lines.append("\(pad)- \(Self.scalar(value))")
        }
    }

    mutating func blank() { lines.append("") }

    /// A value that fits on the rest of the line: a scalar (not multi-line text), `{}`, `[]`, or a short list of
    /// one-line scalars in flow style (`[Quarantine, "No"]`).
    static func inline(_ value: JSONValue, room: Int) -> String? {
        switch value {
        case .string(let text):
            if text.contains("\n") { return nil }
            return quoted(text)
        case .object(let object): return object.isEmpty ? "{}" : nil
        case .array(let items):
            if items.isEmpty { return "[]" }
            var parts: [String] = []
            for item in items {
                switch item {
                case .string(let text) where !text.contains("\n"): parts.append(quoted(text))
                case .int, .bigInt, .double, .bool, .null: parts.append(scalar(item))
                default: return nil
                }
            }
            let flow = "[" + parts.joined(separator: ", ") + "]"
            return flow.count <= room ? flow : nil
        default: return scalar(value)
        }
    }

    /// A scalar other than a string.
    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .bigInt(let b): return b.description
        case .double:
            // YAML 1.1 (PyYAML, and Relay's reader) takes `1e+20` for a string: a float needs a dot.
            var text = JSONWriter.compact.string(value)
            if !text.contains("."), let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
                text.insert(contentsOf: ".0", at: e)
            }
            return text
        case .string(let text): return quoted(text)
        case .array, .object: return JSONWriter.compact.string(value)
        }
    }

    /// A one-line string: plain when nothing could mistake it, else in double quotes when it needs no escape, else
    /// in single quotes, else JSON-escaped in double quotes.
    static func quoted(_ text: String) -> String {
        if isPlain(text) { return text }
        guard isPrintable(text), !text.contains("\t") else { return doubleQuoted(text) }
        if !text.contains("\"") && !text.contains("\\") { return "\"\(text)\"" }
        return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// YAML's double-quoted style, escaping what a YAML reader would otherwise take for a line break (`\n`, NEL,
    /// U+2028, U+2029) or refuse (other control characters, BOM).
    static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x85: out += "\\N"
            case 0x2028: out += "\\L"
            case 0x2029: out += "\\P"
            case 0x00..<0x20, 0x7F...0x9F: out += "\\x" + hex(scalar.value, digits: 2)
            case 0xFEFF, 0xFFFE, 0xFFFF: out += "\\u" + hex(scalar.value, digits: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// A mapping key.
    static func key(_ key: String) -> String { isPlain(key) ? key : doubleQuoted(key) }

    static let reservedWords: Set<String> = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"]

    /// Letters first, then letters, digits, `_`, `-`, `.`, `/` and single inner spaces; not a word YAML 1.1 reads
    /// as a boolean or null.
    static func isPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= 200,
            (first >= "a" && first <= "z") || (first >= "A" && first <= "Z")
        else { return false }
        var previousSpace = false
        for scalar in text.unicodeScalars {
            let isSpace = scalar == " "
            if isSpace && previousSpace { return false }
            previousSpace = isSpace
            let allowed =
                (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                || scalar == "_" || scalar == "-" || scalar == "." || scalar == "/" || isSpace
            if !allowed { return false }
        }
        if previousSpace { return false }
        return !reservedWords.contains(text.lowercased())
    }

    /// Characters YAML writes as they are (no escape), line breaks other than `\n` excluded.
    static func isPrintable(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            let v = scalar.value
            if v == 0x0A { return true }
            if v < 0x20 || (v >= 0x7F && v <= 0x9F) { return false }
            if v == 0x2028 || v == 0x2029 || v == 0xFEFF || v == 0xFFFE || v == 0xFFFF { return false }
            return true
        }
    }

    /// Multi-line text as a literal block (`|`, `|-` or `|+` by its trailing line breaks), when it reads back
    /// exactly: printable, no tab, and no line that starts with a space (which would need an indentation
    /// indicator); nil otherwise (it is then written in double quotes).
    static func literalBlock(_ text: String) -> (header: String, lines: [String])? {
        guard text.contains("\n"), isPrintable(text), !text.contains("\t") else { return nil }
        var body = Substring(text)
        var trailing = 0
        while body.hasSuffix("\n") {
            body = body.dropLast()
            trailing += 1
        }
        guard !body.isEmpty else { return nil }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, !first.isEmpty,
            !lines.contains(where: { $0.hasPrefix(" ") || $0.hasSuffix(" ") })
        else { return nil }
        let header = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+"
        return (header, lines + Array(repeating: "", count: max(0, trailing - 1)))
    }
}
