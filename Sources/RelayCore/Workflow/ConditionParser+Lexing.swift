extension ConditionParser {
    /// The next token from `index`. Loops only; a JSON literal is read by `JSONParser`, which does not recurse.
    mutating func lex() throws(TemplateError) -> Token {
        index = ReferencePath.skipSpaces(characters, from: index)
        let start = index
        guard start < end else { return Token(kind: .end, start: end, text: "") }
        let character = characters[start]
        func token(_ kind: Token.Kind, length: Int) -> Token {
            index = start + length
            return Token(kind: kind, start: start, text: String(characters[start..<start + length]))
        }
        let following: Character? = start + 1 < end ? characters[start + 1] : nil
        switch character {
        case "(": return token(.open, length: 1)
        case ")": return token(.close, length: 1)
        case ",": return token(.comma, length: 1)
        case "=":
            guard following == "=" else {
                throw TemplateError(message: "\"=\" at character \(start + 1): did you mean \"==\"?")
            }
            return token(.comparison(.equals), length: 2)
        case "!":
            guard following == "=" else {
                throw TemplateError(message: "\"!\" at character \(start + 1): did you mean \"!=\" or \"not\"?")
            }
            return token(.comparison(.notEquals), length: 2)
        case "<":
            return following == "=" ? token(.comparison(.lessOrEqual), length: 2) : token(.comparison(.less), length: 1)
        case ">":
            return following == "="
                ? token(.comparison(.greaterOrEqual), length: 2) : token(.comparison(.greater), length: 1)
        case "\"":
            let string = try ReferencePath.quoted(characters, from: start)
            return token(.literal(.string(string.value)), length: string.end - start)
        case "'":
            let string = try singleQuoted(from: start)
            return token(.literal(.string(string.value)), length: string.end - start)
        case "[", "{":
            let json = try jsonLiteral(from: start)
            return token(.literal(json.value), length: json.end - start)
        default:
            guard ReferencePath.isBare(character) else {
                throw TemplateError(message: "unexpected \"\(character)\" at character \(start + 1)")
            }
            if (character.isASCII && character.isNumber) || character == "-" {
                let run = bareRun(from: start)
                if let number = try? JSONParser.parse(run.text), number.doubleValue != nil {
                    return token(.literal(number), length: run.end - start)
                }
                return token(.bare(run.text), length: run.end - start)
            }
            let (word, wordEnd) = ReferencePath.bareName(characters, from: start)
            if ReferencePath.roots.contains(word) {
                let scanned = try ReferencePath.scan(characters, from: start)
                let text = String(characters[start..<scanned.end])
                do {
                    try ReferencePath.checkRoot(scanned.path, expression: text)
                } catch {
                    throw TemplateError(message: "\(error.message) at character \(start + 1)")
                }
                return token(.reference(scanned.path), length: scanned.end - start)
            }
            switch word {
            case "true": return token(.literal(true), length: wordEnd - start)
            case "false": return token(.literal(false), length: wordEnd - start)
            case "null": return token(.literal(.null), length: wordEnd - start)
            case _ where Self.keywords.contains(word): return token(.keyword(word), length: wordEnd - start)
            default: break
            }
            let after = ReferencePath.skipSpaces(characters, from: wordEnd)
            if after < end, characters[after] == "(" { return token(.function(word), length: wordEnd - start) }
            let run = bareRun(from: start)
            return token(.bare(run.text), length: run.end - start)
        }
    }

    /// A bare word as a string on the right of a comparison: bare characters and dots (`web-1.example.com`,
    /// `10.0.0.1`).
    func bareRun(from start: Int) -> (text: String, end: Int) {
        var stop = start
        while stop < end, characters[stop] == "." || ReferencePath.isBare(characters[stop]) { stop += 1 }
        return (String(characters[start..<stop]), stop)
    }

    /// `'text'`: JSON's escapes, and `\'` for a quote.
    func singleQuoted(from start: Int) throws(TemplateError) -> (value: String, end: Int) {
        var json = "\""
        var position = start + 1
        while position < end, characters[position] != "'" {
            let character = characters[position]
            if character == "\\", position + 1 < end {
                let escaped = characters[position + 1]
                json += escaped == "'" ? "'" : "\\\(escaped)"
                position += 2
                continue
            }
            json += character == "\"" ? "\\\"" : String(character)
            position += 1
        }
        guard position < end else {
            throw TemplateError(message: "the string at character \(start + 1) is not closed")
        }
        return (try ReferencePath.jsonString(json + "\"", at: start), position + 1)
    }

    /// `[…]` or `{…}`: a JSON array or object, nested at most `Condition.maximumDepth` levels.
    func jsonLiteral(from start: Int) throws(TemplateError) -> (value: JSONValue, end: Int) {
        var level = 0
        var position = start
        var inString = false
        repeat {
            let character = characters[position]
            if inString {
                if character == "\\" {
                    position += 1
                } else if character == "\"" {
                    inString = false
                }
            } else {
                switch character {
                case "\"": inString = true
                case "[", "{": level += 1
                case "]", "}": level -= 1
                default: break
                }
            }
            position += 1
        } while level > 0 && position < end
        guard level == 0 else {
            throw TemplateError(message: "the \"\(characters[start])\" at character \(start + 1) is not closed")
        }
        var parser = JSONParser(String(characters[start..<position]))
        parser.maximumDepth = Condition.maximumDepth
        do throws(JSONParseError) {
            let value = try parser.parseValue()
            if parser.atEnd() { return (value, position) }
        } catch {
            throw TemplateError(
                message: "invalid JSON at character \(start + 1): expected \(error.expected), found \(error.found)")
        }
        throw TemplateError(message: "invalid JSON at character \(start + 1)")
    }
}
