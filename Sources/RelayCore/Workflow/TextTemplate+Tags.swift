extension TextTemplate {
    enum BlockKeyword: String, Sendable {
        case each
        case `if`
        case unless
        case equal
    }

    /// What one tag says, read from the text between its braces. Whether its references may be read from `this`
    /// depends on the blocks around it, which the tree builder checks.
    enum TagKind {
        /// `{{ path }}`, `{{{ path }}}`
        case value(Reference)
        /// `{{#each path}}`
        case each(Reference)
        /// `{{#if x}}`, `{{#unless x}}`, `{{#equal a b}}`
        case test(BlockKeyword, Test)
        /// `{{else}}` (no test), `{{else if x}}`, `{{else unless x}}`, `{{else equal a b}}`
        case otherwise(Test?)
        /// `{{/name}}`
        case close(String)

        var isBlockTag: Bool {
            if case .value = self { return false }
            return true
        }

        init(_ content: String, triple: Bool, tag: Tag) throws(TemplateError) {
            let characters = Array(content)
            let start = ReferencePath.skipSpaces(characters, from: 0)
            func fail(_ problem: String) -> TemplateError { TemplateError(message: "\(tag.place): \(problem)") }
            guard start < characters.count else {
                throw fail("expected a reference such as steps.ID.output.field, this or @index, found nothing")
            }
            if triple || (characters[start] != "#" && characters[start] != "/") {
                let word = ReferencePath.bareName(characters, from: start)
                if !triple, word.name == "else", word.end == characters.count || characters[word.end].isWhitespace {
                    self = .otherwise(try Self.elseTest(characters, from: word.end, tag: tag))
                    return
                }
                let operands = try Self.operands(characters, from: start, most: 1, literals: false, tag: tag)
                guard case .reference(let reference) = operands[0] else { throw fail("expected a reference") }
                self = .value(reference)
                return
            }
            let word = ReferencePath.bareName(characters, from: ReferencePath.skipSpaces(characters, from: start + 1))
            if characters[start] == "/" {
                guard !word.name.isEmpty else { throw fail("expected the name of the block to close after \"/\"") }
                let rest = ReferencePath.skipSpaces(characters, from: word.end)
                guard rest == characters.count else {
                    throw fail(
                        "expected the end of the tag after \"/\(word.name)\", found "
                            + ReferencePath.found(characters, at: rest))
                }
                self = .close(word.name)
                return
            }
            guard let keyword = BlockKeyword(rawValue: word.name) else {
                throw fail("unknown block \"#\(word.name)\"; expected #each, #if, #unless or #equal")
            }
            if keyword == .each {
                let operands = try Self.operands(characters, from: word.end, most: 1, literals: false, tag: tag)
                guard operands.count == 1, case .reference(let reference) = operands[0] else {
                    throw fail("expected a reference to a list or an object after #each, found nothing")
                }
                self = .each(reference)
            } else {
                self = .test(keyword, try Self.test(keyword, characters, from: word.end, tag: tag))
            }
        }

        /// What follows `else`: nothing, or `if x`, `unless x`, `equal a b`.
        static func elseTest(_ characters: [Character], from start: Int, tag: Tag) throws(TemplateError) -> Test? {
            let next = ReferencePath.skipSpaces(characters, from: start)
            guard next < characters.count else { return nil }
            let word = ReferencePath.bareName(characters, from: next)
            guard let keyword = BlockKeyword(rawValue: word.name), keyword != .each else {
                throw TemplateError(
                    message: "\(tag.place): expected {{else}}, {{else if …}}, {{else unless …}} or {{else equal …}}, "
                        + "found else \(ReferencePath.found(characters, at: next))")
            }
            return try test(keyword, characters, from: word.end, tag: tag)
        }

        static func test(
            _ keyword: BlockKeyword, _ characters: [Character], from start: Int, tag: Tag
        ) throws(TemplateError) -> Test {
            let wanted = keyword == .equal ? 2 : 1
            let operands = try operands(characters, from: start, most: wanted, literals: keyword == .equal, tag: tag)
            guard operands.count == wanted else {
                let expected = keyword == .equal ? "two values to compare" : "a reference"
                let found = operands.isEmpty ? "nothing" : "one"
                throw TemplateError(message: "\(tag.place): expected \(expected) after \(keyword), found \(found)")
            }
            switch keyword {
            case .if: return .truthy(operands[0])
            case .unless: return .falsy(operands[0])
            case .equal, .each: return .equal(operands[0], operands[1])
            }
        }

        /// At most `most` operands separated by white space, from `start` to the end of the tag.
        static func operands(
            _ characters: [Character], from start: Int, most: Int, literals: Bool, tag: Tag
        ) throws(TemplateError) -> [Operand] {
            var operands: [Operand] = []
            var index = ReferencePath.skipSpaces(characters, from: start)
            while index < characters.count {
                let token = Self.token(characters, from: index)
                guard operands.count < most else {
                    throw TemplateError(message: "\(tag.place): expected the end of the tag, found \"\(token)\"")
                }
                // Positions in messages count from the operand's first character.
                let operand: (value: Operand, end: Int)
                do {
                    operand = try Self.operand(Array(characters[index...]), literals: literals)
                } catch {
                    throw TemplateError(message: "\(tag.place): \"\(token)\": \(error.message)")
                }
                let end = index + operand.end
                guard end == characters.count || characters[end].isWhitespace else {
                    throw TemplateError(
                        message: "\(tag.place): expected a space or the end of the tag after "
                            + "\"\(String(characters[index..<end]))\", found "
                            + ReferencePath.found(characters, at: end)
                    )
                }
                operands.append(operand.value)
                index = ReferencePath.skipSpaces(characters, from: end)
            }
            return operands
        }

        /// The text from `start` to the next white space, for messages.
        static func token(_ characters: [Character], from start: Int) -> String {
            var end = start
            while end < characters.count, !characters[end].isWhitespace, end - start < 60 { end += 1 }
            return String(characters[start..<end])
        }

        /// A reference, or (when `literals`) a JSON string, number, `true`, `false` or `null`, at the start of
        /// `characters`, and where it ends.
        static func operand(_ characters: [Character], literals: Bool) throws(TemplateError) -> (Operand, end: Int) {
            let first = characters[0]
            let word = ReferencePath.bareName(characters, from: 0)
            let isNumber =
                first.isASCII && first.isNumber
                || (first == "-" && characters.count > 1 && characters[1].isASCII && characters[1].isNumber)
            let isWord =
                ["true", "false", "null"].contains(word.name)
                && (word.end == characters.count || characters[word.end].isWhitespace)
            guard first == "\"" || isNumber || isWord else { return try reference(characters) }
            guard literals else { throw TemplateError(message: "expected a reference, found a literal") }
            if first == "\"" {
                let quoted = try ReferencePath.quoted(characters, from: 0)
                return (.literal(.string(quoted.value)), quoted.end)
            }
            if isWord { return (.literal(word.name == "null" ? .null : .bool(word.name == "true")), word.end) }
            var end = 1
            while end < characters.count, "0123456789+-.eE".contains(characters[end]) { end += 1 }
            let text = String(characters[0..<end])
            do throws(JSONParseError) {
                return (.literal(try JSONParser.parse(text)), end)
            } catch {
                throw TemplateError(message: "expected a number, found \"\(text)\"")
            }
        }

        /// `this`, `.`, `this.name`, `name` (from `this` unless it is one of Relay's roots), `./name`, `../name`,
        /// `@index`, `steps.ID.output["a b"][0]`, …: Relay's path syntax (`ReferencePath`) after the prefix.
        static func reference(_ characters: [Character]) throws(TemplateError) -> (Operand, end: Int) {
            var index = 0
            var up = 0
            var relative = false
            func at(_ offset: Int, _ character: Character) -> Bool {
                index + offset < characters.count && characters[index + offset] == character
            }
            func endsAt(_ offset: Int) -> Bool {
                index + offset == characters.count || characters[index + offset].isWhitespace
            }
            func written(_ end: Int) -> String { String(characters[0..<end]) }
            while at(0, "."), at(1, "."), at(2, "/") {
                up += 1
                index += 3
            }
            if at(0, "."), at(1, "."), endsAt(2) {
                return (
                    .reference(Reference(base: .this(up: up + 1), path: [], written: written(index + 2))), index + 2
                )
            }
            if at(0, "."), endsAt(1) {
                return (.reference(Reference(base: .this(up: up), path: [], written: written(index + 1))), index + 1)
            }
            if at(0, "."), at(1, "/") {
                relative = true
                index += 2
            }
            guard index < characters.count, ReferencePath.isBare(characters[index]) else {
                throw TemplateError(
                    message: "expected a reference such as steps.ID.output.field, this, ../name or @index, found "
                        + ReferencePath.found(characters, at: index))
            }
            let scanned = try ReferencePath.scan(characters, from: index)
            var path = scanned.path
            if path[0].hasPrefix("@") {
                guard let variable = DataVariable(rawValue: path[0]), !relative, up == 0 else {
                    throw TemplateError(
                        message: "expected @index, @key, @first or @last, found \(written(scanned.end))")
                }
                guard path.count == 1 else {
                    throw TemplateError(message: "\(variable.rawValue) has no \(path[1])")
                }
                return (.reference(Reference(base: .data(variable), path: [], written: path[0])), scanned.end)
            }
            if path[0] == "this" {
                path.removeFirst()
                relative = true
            }
            guard relative || up > 0 || !ReferencePath.roots.contains(path[0]) else {
                guard path[0] != "index" || path.count == 1 else {
                    throw TemplateError(message: "index is a number, it has no \(path[1])")
                }
                return (.reference(Reference(base: .scope, path: path, written: written(scanned.end))), scanned.end)
            }
            return (.reference(Reference(base: .this(up: up), path: path, written: written(scanned.end))), scanned.end)
        }
    }
}
