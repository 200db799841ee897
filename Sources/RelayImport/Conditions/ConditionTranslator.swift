import RelayCore

/// Translates a decision's expression to a Relay condition: `=` becomes `==`, `=~ /re/` becomes `matches "re"`,
/// `AND`/`OR`/`NOT` become `and`/`or`/`not`, `length()` and `is_defined()` stay, variables become references, and
/// `[step].[$success]` compared with true or false becomes `steps.ID.status == "succeeded"` (or `!=`).
public struct ConditionTranslator {
    /// The file's node ids.
    public var nodes: Set<String>
    /// A reference's Relay form (`steps.x.output.a`), or why it has none.
    public var resolve: (ICONReference) -> Result<String, TranslationGap>
    /// `steps.ID.status` of the step with this node id, or why it has none.
    public var status: (String) -> Result<String, TranslationGap>
    /// Things worth telling about a condition that was translated (kept as written, not fixed).
    public private(set) var notes: [String] = []

    public init(
        nodes: Set<String>, resolve: @escaping (ICONReference) -> Result<String, TranslationGap>,
        status: @escaping (String) -> Result<String, TranslationGap>
    ) {
        self.nodes = nodes
        self.resolve = resolve
        self.status = status
    }

    static let comparisons: [String: String] = [
        "==": "==", "=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "contains": "contains",
        "=~": "matches",
    ]

    public mutating func translate(_ expression: ICONExpression) -> Result<RelayCondition, TranslationGap> {
        do {
            return .success(try condition(expression))
        } catch {
            return .failure(error)
        }
    }

    private mutating func condition(_ expression: ICONExpression) throws(TranslationGap) -> RelayCondition {
        switch expression {
        case .empty:
            throw TranslationGap("the condition was never configured (its expression is empty)")
        case .binary(let op, let left, let right):
            switch op.lowercased() {
            case "and", "&&", "or", "||":
                let isAnd = op.lowercased() == "and" || op == "&&"
                let terms = [
                    try logicalOperand(left, op: isAnd ? "and" : "or"),
                    try logicalOperand(right, op: isAnd ? "and" : "or"),
                ]
                return isAnd ? (RelayCondition.all(terms) ?? terms[0]) : (RelayCondition.any(terms) ?? terms[0])
            default:
                guard let relayOp = Self.comparisons[op.lowercased()] ?? Self.comparisons[op] else {
                    throw TranslationGap("the operator \"\(op)\" has no Relay equivalent yet")
                }
                if let success = try successComparison(left, op: relayOp, right) { return success }
                let lhs = try operand(left)
                let rhs: RelayCondition
                if relayOp == "matches" {
                    switch right {
                    case .regexp(let pattern): rhs = .literal(.string(pattern))
                    case .literal(.string(let pattern)): rhs = .literal(.string(pattern))
                    default: throw TranslationGap("=~ with something other than a regular expression on its right")
                    }
                } else {
                    rhs = try operand(right)
                }
                return .comparison(lhs, relayOp, rhs)
            }
        case .unary(let op, let operand):
            guard ["not", "!"].contains(op.lowercased()) else {
                throw TranslationGap("the operator \"\(op)\" has no Relay equivalent yet")
            }
            return .negation(try condition(operand))
        case .variable(let name):
            if let step = successNode(name) {
                return .comparison(.reference(try statusOf(step)), "==", .literal("succeeded"))
            }
            return .reference(try reference(name))
        case .function, .literal, .array: return try operand(expression)
        case .regexp(let pattern):
            throw TranslationGap("a regular expression (/\(pattern)/) where a condition was expected")
        }
    }

    /// An operand of `and`/`or`. A literal there is kept as written (InsightConnect's `x contains "a" OR "b"`
    /// means `(x contains "a") OR "b"`, which always holds) and noted.
    private mutating func logicalOperand(_ expression: ICONExpression, op: String) throws(TranslationGap)
        -> RelayCondition
    {
        if case .literal(let value) = expression {
            notes.append(
                "the literal \(JSONWriter.compact.string(value)) stands alone as an operand of \(op), as in the "
                    + "export (it does not compare anything); kept as written")
        }
        return try condition(expression)
    }

    private mutating func operand(_ expression: ICONExpression) throws(TranslationGap) -> RelayCondition {
        switch expression {
        case .variable(let name):
            if successNode(name) != nil {
                throw TranslationGap("$success used as a value (Relay has steps.ID.status, a string)")
            }
            return .reference(try reference(name))
        case .literal(let value): return .literal(value)
        case .array(let items):
            var values: [JSONValue] = []
            for item in items {
                guard case .literal(let value) = item else {
                    throw TranslationGap("an array of non-literal values in a condition")
                }
                values.append(value)
            }
            return .literal(.array(values))
        case .function(let name, let arguments):
            let lowered = name.lowercased()
            guard ["length", "is_defined"].contains(lowered) else {
                throw TranslationGap("the function \(name)() has no Relay equivalent yet")
            }
            guard arguments.count == 1 else {
                throw TranslationGap("\(name)() with \(arguments.count) arguments (it takes one)")
            }
            return .call(lowered, [try operand(arguments[0])])
        case .regexp(let pattern):
            throw TranslationGap("a regular expression (/\(pattern)/) outside =~")
        case .binary, .unary, .empty: return try condition(expression)
        }
    }

    /// `[s].[$success] == true` and the like, as a comparison of the step's status.
    private func successComparison(_ left: ICONExpression, op: String, _ right: ICONExpression) throws(TranslationGap)
        -> RelayCondition?
    {
        let pairs: [(ICONExpression, ICONExpression)] = [(left, right), (right, left)]
        for (variable, other) in pairs {
            guard case .variable(let name) = variable, let step = successNode(name) else { continue }
            guard op == "==" || op == "!=" else {
                throw TranslationGap("$success compared with \(op) (only == and != with true or false translate)")
            }
            let expected: Bool
            switch other {
            case .literal(.bool(let value)): expected = value
            case .literal(.string("true")): expected = true
            case .literal(.string("false")): expected = false
            default: throw TranslationGap("$success compared with something other than true or false")
            }
            let succeeded = (op == "==") == expected
            return .comparison(.reference(try statusOf(step)), succeeded ? "==" : "!=", .literal("succeeded"))
        }
        return nil
    }

    /// The node id when `name` is `<node id>.$success`.
    private func successNode(_ name: String) -> String? {
        if case .node(let id, let path) = ICONReference.parse(variable: name, nodes: nodes), path == ["$success"] {
            return id
        }
        return nil
    }

    private func statusOf(_ node: String) throws(TranslationGap) -> String {
        switch status(node) {
        case .success(let text): return text
        case .failure(let gap): throw gap
        }
    }

    private func reference(_ name: String) throws(TranslationGap) -> String {
        switch resolve(ICONReference.parse(variable: name, nodes: nodes)) {
        case .success(let text): return text
        case .failure(let gap): throw gap
        }
    }
}
