extension TextTemplate {
    /// Reads a template in two loops, neither recursive: the first cuts the text into runs and tags (and reads
    /// each tag), the second builds the tree with a stack of the blocks open. Between them, the runs around block
    /// tags standing alone on their lines lose that line's white space and line break.
    struct Parser {
        let bytes: [UInt8]
        /// The text between tags as byte ranges: `runs[i]` comes before `tags[i]`, the last after the last tag.
        var runs: [Range<Int>] = []
        var tags: [ScannedTag] = []
        var references: [[String]] = []

        struct ScannedTag {
            var tag: Tag
            var kind: TagKind
        }

        /// The length of the text in bytes; `bytes` is empty when it is past the limit.
        let length: Int

        init(_ text: String) {
            length = text.utf8.count
            bytes = length <= TextTemplate.longestText ? Array(text.utf8) : []
        }

        mutating func parse() throws(TemplateError) -> [Node] {
            guard length <= TextTemplate.longestText else {
                throw TemplateError(
                    message: "the text template is \(length) bytes long, more than the limit of "
                        + "\(TextTemplate.longestText) bytes (1 MiB)")
            }
            try scan()
            stripStandaloneLines()
            return try build()
        }

        // MARK: Runs and tags

        /// Cuts the text at every `{{ … }}` (`{{{ … }}}`); a `}}` inside a double-quoted key does not close a tag.
        mutating func scan() throws(TemplateError) {
            var cursor = TextCursor()
            var runStart = 0
            var index = 0
            let count = bytes.count
            while index + 1 < count {
                guard bytes[index] == UInt8(ascii: "{"), bytes[index + 1] == UInt8(ascii: "{") else {
                    index += 1
                    continue
                }
                cursor.advance(over: bytes, to: index)
                let triple = index + 2 < count && bytes[index + 2] == UInt8(ascii: "{")
                let contentStart = index + (triple ? 3 : 2)
                guard let close = closing(from: contentStart) else {
                    throw TemplateError(
                        message: "\"\(triple ? "{{{" : "{{")\" at \(cursor.position) has no closing "
                            + "\"\(triple ? "}}}" : "}}")\"")
                }
                var end = close + 2
                if triple {
                    guard end < count, bytes[end] == UInt8(ascii: "}") else {
                        throw TemplateError(
                            message: "\"{{{\" at \(cursor.position): expected \"}}}\" to close it, found \"}}\"")
                    }
                    end += 1
                }
                let tag = Tag(text: shown(index..<end), line: cursor.line, column: cursor.column)
                let content = String(decoding: bytes[contentStart..<close], as: UTF8.self)
                runs.append(runStart..<index)
                tags.append(ScannedTag(tag: tag, kind: try TagKind(content, triple: triple, tag: tag)))
                runStart = end
                index = end
            }
            runs.append(runStart..<count)
        }

        /// The first `}}` from `start` outside a double-quoted string (whose `\` escapes the next character).
        func closing(from start: Int) -> Int? {
            var index = start
            var inString = false
            while index < bytes.count {
                let byte = bytes[index]
                if inString {
                    if byte == UInt8(ascii: "\\") {
                        index += 2
                        continue
                    }
                    if byte == UInt8(ascii: "\"") { inString = false }
                } else if byte == UInt8(ascii: "\"") {
                    inString = true
                } else if byte == UInt8(ascii: "}"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "}") {
                    return index
                }
                index += 1
            }
            return nil
        }

        /// A tag as written, shortened to about 60 characters.
        func shown(_ range: Range<Int>) -> String {
            let text = String(decoding: bytes[range], as: UTF8.self)
            guard text.count > 60 else { return text }
            return String(text.prefix(56)) + "…}}"
        }

        // MARK: Standalone lines

        /// Handlebars' standalone rule: a block tag (`{{#…}}`, `{{else}}`, `{{/…}}`) with only white space between
        /// it and the line break (or the start of the text) before it, and between it and the line break (or the
        /// end of the text) after it, takes the spaces before it and the spaces and line break after it along.
        /// Judged on the text as written, so that neighbouring tags do not change each other's answer.
        mutating func stripStandaloneLines() {
            var dropTrailing: [Int] = []
            var dropLeading: [Int] = []
            for (position, scanned) in tags.enumerated() {
                guard scanned.kind.isBlockTag else { continue }
                let before = runs[position]
                let after = runs[position + 1]
                guard endsAtLineStart(before, atTextStart: position == 0),
                    startsWithLineEnd(after, atTextEnd: position == tags.count - 1)
                else { continue }
                dropTrailing.append(position)
                dropLeading.append(position + 1)
            }
            for position in dropTrailing {
                var run = runs[position]
                while run.upperBound > run.lowerBound, isSpaceOrTab(bytes[run.upperBound - 1]) {
                    run = run.lowerBound..<(run.upperBound - 1)
                }
                runs[position] = run
            }
            for position in dropLeading {
                var start = runs[position].lowerBound
                let end = runs[position].upperBound
                while start < end, isSpaceOrTab(bytes[start]) { start += 1 }
                if start < end, bytes[start] == UInt8(ascii: "\r"), start + 1 < end,
                    bytes[start + 1] == UInt8(ascii: "\n")
                {
                    start += 2
                } else if start < end, bytes[start] == UInt8(ascii: "\n") {
                    start += 1
                }
                runs[position] = start..<end
            }
        }

        /// Whether `run` ends with white space holding a line break (or, at the start of the text, is all white
        /// space).
        func endsAtLineStart(_ run: Range<Int>, atTextStart: Bool) -> Bool {
            var index = run.upperBound
            while index > run.lowerBound, isWhiteSpace(bytes[index - 1]) {
                index -= 1
                if bytes[index] == UInt8(ascii: "\n") { return true }
            }
            return atTextStart && index == run.lowerBound
        }

        /// Whether `run` starts with white space holding a line break (or, at the end of the text, is all white
        /// space).
        func startsWithLineEnd(_ run: Range<Int>, atTextEnd: Bool) -> Bool {
            var index = run.lowerBound
            while index < run.upperBound, isWhiteSpace(bytes[index]) {
                if bytes[index] == UInt8(ascii: "\n") { return true }
                index += 1
            }
            return atTextEnd && index == run.upperBound
        }

        func isSpaceOrTab(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

        func isWhiteSpace(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C: true
            default: false
            }
        }
    }
}

/// A line and a column (in Unicode scalars, from 1) moved forward through UTF-8 text, so that finding the place of
/// every tag costs one pass over the text.
struct TextCursor {
    var offset = 0
    var line = 1
    var column = 1

    var position: String { "line \(line), column \(column)" }

    mutating func advance(over bytes: [UInt8], to target: Int) {
        while offset < target {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            offset += 1
        }
    }
}
