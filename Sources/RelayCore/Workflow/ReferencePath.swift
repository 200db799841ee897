/// The syntax of a reference, shared by templates (`{{ steps.lookup.output.ip }}`) and conditions: a root
/// (`trigger`, `steps`, `item`, `index`, `vars`), then segments, each `.name` (a bare name), `[N]` (a position in a
/// list) or `["key"]` (one key, any text, with JSON string escapes: `["Threat Score"]`, `["a.b"]`). A path is the
/// list of its segments as text: `steps.lookup.output["Threat Score"][0]` → `["steps", "lookup", "output",
/// "Threat Score", "0"]`.
///
/// A bare name holds anything but white space and `. [ ] ( ) { } " ' = ! < > ,`: letters, digits, `_`, `-`, `$`,
/// `@` and the like. Scanning is a loop over the characters (no recursion); positions in errors count characters
/// from 1.
enum ReferencePath {
    static let roots: Set<String> = ["trigger", "steps", "item", "index", "vars", "run"]

    /// Whether `character` may be part of a bare name.
    static func isBare(_ character: Character) -> Bool {
        if character.isWhitespace { return false }
        switch character {
        case ".", "[", "]", "(", ")", "{", "}", "\"", "'", "=", "!", "<", ">", ",": return false
        default: return !(character.unicodeScalars.first?.properties.generalCategory == .control)
        }
    }

    /// The bare name starting at `start` (empty when there is none) and where it ends.
    static func bareName(_ characters: [Character], from start: Int) -> (name: String, end: Int) {
        var end = start
        while end < characters.count, isBare(characters[end]) { end += 1 }
        return (String(characters[start..<end]), end)
    }

    /// The reference starting at `start` (its first bare name; the caller has checked there is one) and the
    /// position after it. Stops at the first character that continues no segment.
    static func scan(_ characters: [Character], from start: Int) throws(TemplateError) -> (path: [String], end: Int) {
        let first = bareName(characters, from: start)
        var path = [first.name]
        var index = first.end
        while index < characters.count {
            if characters[index] == "." {
                let next = bareName(characters, from: index + 1)
                guard !next.name.isEmpty else {
                    throw TemplateError(
                        message: "expected a field name after \".\" at character \(index + 2), found "
                            + found(characters, at: index + 1))
                }
                path.append(next.name)
                index = next.end
            } else if characters[index] == "[" {
                var position = skipSpaces(characters, from: index + 1)
                if position < characters.count, characters[position] == "\"" {
                    let key = try quoted(characters, from: position)
                    path.append(key.value)
                    position = key.end
                } else if position < characters.count, characters[position].isASCII, characters[position].isNumber {
                    var end = position
                    while end < characters.count, characters[end].isASCII, characters[end].isNumber { end += 1 }
                    path.append(String(characters[position..<end]))
                    position = end
                } else {
                    throw TemplateError(
                        message: "expected a position or a quoted key (such as [0] or [\"Threat Score\"]) after \"[\" "
                            + "at character \(position + 1), found \(found(characters, at: position))")
                }
                position = skipSpaces(characters, from: position)
                guard position < characters.count, characters[position] == "]" else {
                    throw TemplateError(
                        message: "expected \"]\" at character \(position + 1), found \(found(characters, at: position))"
                    )
                }
                index = position + 1
            } else {
                break
            }
        }
        return (path, index)
    }

    /// A string literal in double quotes starting at `start`, with JSON's escapes, and the position after it.
    static func quoted(_ characters: [Character], from start: Int) throws(TemplateError) -> (value: String, end: Int) {
        var end = start + 1
        while end < characters.count, characters[end] != "\"" {
            end += characters[end] == "\\" ? 2 : 1
        }
        guard end < characters.count else {
            throw TemplateError(message: "the string at character \(start + 1) is not closed")
        }
        return (try jsonString(String(characters[start...end]), at: start), end + 1)
    }

    /// `text` (a double-quoted JSON string) as a value; the error names `start`.
    static func jsonString(_ text: String, at start: Int) throws(TemplateError) -> String {
        do throws(JSONParseError) {
            if case .string(let value) = try JSONParser.parse(text) { return value }
        } catch {
            throw TemplateError(
                message: "invalid string at character \(start + 1): expected \(error.expected), found \(error.found)")
        }
        throw TemplateError(message: "invalid string at character \(start + 1)")
    }

    static func skipSpaces(_ characters: [Character], from start: Int) -> Int {
        var index = start
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        return index
    }

    /// What stands at `index`, for messages: `")"`, `"and"`, or `the end`.
    static func found(_ characters: [Character], at index: Int) -> String {
        guard index < characters.count else { return "the end" }
        var end = index + 1
        if isBare(characters[index]) {
            while end < characters.count, isBare(characters[end]), end - index < 40 { end += 1 }
        }
        return "\"\(String(characters[index..<end]))\""
    }

    /// Checks the root of `path` (written as `expression`): one of `roots`, and `index` alone.
    static func checkRoot(_ path: [String], expression: String) throws(TemplateError) {
        guard let root = path.first, roots.contains(root) else {
            throw TemplateError(
                message: "\"\(expression)\" must start with trigger., steps. or vars. (or be item or index in a "
                    + "for_each step)")
        }
        guard root != "index" || path.count == 1 else {
            throw TemplateError(message: "\"\(expression)\": index is a number, it has no \(path[1])")
        }
    }

    /// A path as it is written: `steps.lookup.output["Threat Score"][0]`.
    static func text(of path: [String]) -> String {
        var text = ""
        for (position, segment) in path.enumerated() {
            if position > 0, !segment.isEmpty, segment.allSatisfy({ $0.isASCII && $0.isNumber }) {
                text += "[\(segment)]"
            } else if !segment.isEmpty, segment.allSatisfy(isBare) {
                text += position == 0 ? segment : ".\(segment)"
            } else {
                text += "[\(JSONWriter.compact.string(.string(segment)))]"
            }
        }
        return text
    }
}

extension String {
    /// The text without the white space (and line breaks) around it.
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<max(start, end)]
    }
}
