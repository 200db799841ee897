import Foundation

/// Reads a condition (`Condition`): tokens are read one at a time as the recursive descent asks for them, so the
/// first error in the text is the one reported. Recursion goes one level deeper only for a parenthesis, `not` or a
/// function call, each counted against `Condition.maximumDepth`.
struct ConditionParser {
    struct Token {
        enum Kind {
            case reference([String])
            case literal(JSONValue)
            /// A word that is neither a reference nor a keyword: a string only on the right of a comparison.
            case bare(String)
            /// `and`, `or`, `not`, `contains`, `matches`.
            case keyword(String)
            /// A name followed by `(`.
            case function(String)
            case comparison(Condition.Comparison)
            case open, close, comma
            case end
        }

        var kind: Kind
        /// Where it starts, from 0.
        var start: Int
        /// As written, for messages.
        var text: String

        /// `"and"`, or `the end`.
        var shown: String {
            if case .end = kind { return "the end" }
            let excerpt = text.count > 40 ? String(text.prefix(40)) + "…" : text
            // A string literal shows its own quotes.
            return text.first == "\"" || text.first == "'" ? excerpt : "\"\(excerpt)\""
        }

        func isKeyword(_ word: String) -> Bool {
            if case .keyword(word) = kind { return true }
            return false
        }
    }

    static let keywords: Set<String> = ["and", "or", "not", "contains", "matches"]

    /// The text up to where the condition ends (before a closing `}}`).
    let characters: [Character]
    /// `characters.count`.
    let end: Int
    var index: Int
    var peeked: Token?
    var previous: Token?
    var depth = 0
    /// Every reference read, in order.
    var references: [[String]] = []

    init(_ text: String) throws(TemplateError) {
        var count = 0
        for _ in text {
            count += 1
            guard count <= Condition.maximumLength else {
                throw TemplateError(
                    message: "a condition has at most \(Condition.maximumLength) characters; this one has more")
            }
        }
        let all = Array(text)
        // `{{ condition }}`: the braces are skipped, positions still count from the start of the text.
        var start = ReferencePath.skipSpaces(all, from: 0)
        var end = all.count
        while end > start, all[end - 1].isWhitespace { end -= 1 }
        if end - start >= 4, all[start] == "{", all[start + 1] == "{", all[end - 1] == "}", all[end - 2] == "}" {
            start += 2
            end -= 2
        }
        characters = Array(all[..<end])
        index = start
        self.end = end
    }

    // MARK: Grammar

    /// The whole condition: an `or` expression, then nothing.
    mutating func parseCondition() throws(TemplateError) -> Condition.Expression {
        if case .end = try peek().kind { throw TemplateError(message: "expected a condition, found nothing") }
        let expression = try parseOr()
        let next = try peek()
        guard case .end = next.kind else {
            throw TemplateError(
                message: "expected \"and\", \"or\" or the end at character \(next.start + 1), found \(next.shown)")
        }
        return expression
    }

    mutating func parseOr() throws(TemplateError) -> Condition.Expression {
        var operands = [try parseAnd()]
        while try peek().isKeyword("or") {
            consume()
            operands.append(try parseAnd())
        }
        return operands.count == 1 ? operands[0] : .any(operands)
    }

    mutating func parseAnd() throws(TemplateError) -> Condition.Expression {
        var operands = [try parseNot()]
        while try peek().isKeyword("and") {
            consume()
            operands.append(try parseNot())
        }
        return operands.count == 1 ? operands[0] : .all(operands)
    }

    mutating func parseNot() throws(TemplateError) -> Condition.Expression {
        guard try peek().isKeyword("not") else { return try parseComparison() }
        let not = consume()
        try enter(not)
        let operand = try parseNot()
        depth -= 1
        return .not(operand)
    }

    mutating func parseComparison() throws(TemplateError) -> Condition.Expression {
        let left = try parseOperand(bareAllowed: false)
        let next = try peek()
        switch next.kind {
        case .comparison(let comparison):
            consume()
            return .compare(left, comparison, try parseOperand(bareAllowed: true))
        case .keyword("contains"):
            consume()
            return .compare(left, .contains, try parseOperand(bareAllowed: true))
        case .keyword("matches"):
            consume()
            let pattern = try take()
            guard case .literal(.string(let source)) = pattern.kind else {
                throw TemplateError(
                    message: "expected a regular expression in quotes after \"matches\" at character "
                        + "\(pattern.start + 1), found \(pattern.shown)")
            }
            do {
                // NSRegularExpression refuses the empty pattern, which matches anywhere.
                let regex = try NSRegularExpression(pattern: source.isEmpty ? "(?:)" : source)
                return .matches(left, Condition.Pattern(source: source, regex: regex))
            } catch {
                throw TemplateError(
                    message: "\(pattern.shown) at character \(pattern.start + 1) is not a valid regular expression")
            }
        default:
            return left
        }
    }

    /// A reference, a literal, a function call or an expression in parentheses; a bare word (a string) only where
    /// `bareAllowed` (the right of a comparison: `trigger.severity != low`).
    mutating func parseOperand(bareAllowed: Bool) throws(TemplateError) -> Condition.Expression {
        let after = previous
        let token = try take()
        switch token.kind {
        case .reference(let path):
            references.append(path)
            return .reference(path)
        case .literal(let value):
            return .literal(value)
        case .bare(let word) where bareAllowed:
            return .literal(.string(word))
        case .bare:
            throw TemplateError(
                message: "\(token.shown) at character \(token.start + 1) is not a reference (trigger…, steps.ID…, "
                    + "item, index or vars.NAME), a literal or a function; write a string in quotes")
        case .open:
            try enter(token)
            let inner = try parseOr()
            try expectClose(opening: token)
            depth -= 1
            return inner
        case .function(let name):
            return try parseFunction(name, at: token)
        default:
            let place = after.map { "after \($0.shown) " } ?? ""
            throw TemplateError(
                message: "expected an operand \(place)at character \(token.start + 1), found \(token.shown)")
        }
    }

    /// `length(x)` (x any expression) or `is_defined(reference)`.
    mutating func parseFunction(_ name: String, at token: Token) throws(TemplateError) -> Condition.Expression {
        guard name == "length" || name == "is_defined" else {
            throw TemplateError(
                message: "unknown function \(token.shown) at character \(token.start + 1); the functions are "
                    + "length and is_defined")
        }
        let open = try take() // the lexer made it a function because "(" follows
        try enter(token)
        defer { depth -= 1 }
        if name == "is_defined" {
            let argument = try take()
            guard case .reference(let path) = argument.kind else {
                throw TemplateError(
                    message: "is_defined expects a reference such as steps.ID.output.field at character "
                        + "\(argument.start + 1), found \(argument.shown)")
            }
            references.append(path)
            try expectClose(opening: open)
            return .isDefined(path)
        }
        let argument = try parseOr()
        try expectClose(opening: open)
        return .length(argument)
    }

    mutating func expectClose(opening: Token) throws(TemplateError) {
        let close = try take()
        guard case .close = close.kind else {
            throw TemplateError(
                message: "expected \")\" to close the \"(\" at character \(opening.start + 1), found \(close.shown) "
                    + "at character \(close.start + 1)")
        }
    }

    mutating func enter(_ token: Token) throws(TemplateError) {
        depth += 1
        guard depth <= Condition.maximumDepth else {
            throw TemplateError(
                message: "nested deeper than \(Condition.maximumDepth) levels (parentheses, not, functions) at "
                    + "character \(token.start + 1)")
        }
    }

    // MARK: Tokens

    mutating func peek() throws(TemplateError) -> Token {
        if let peeked { return peeked }
        let token = try lex()
        peeked = token
        return token
    }

    @discardableResult
    mutating func take() throws(TemplateError) -> Token {
        let token = try peek()
        peeked = nil
        previous = token
        return token
    }

    /// `take()` of the token `peek()` gave.
    @discardableResult
    mutating func consume() -> Token {
        let token = peeked ?? Token(kind: .end, start: end, text: "")
        peeked = nil
        previous = token
        return token
    }
}
