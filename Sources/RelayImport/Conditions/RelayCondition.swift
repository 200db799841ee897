import RelayCore

/// A condition in Relay's `when` syntax, as a tree that prints itself with the parentheses it needs:
/// `or` binds loosest, then `and`, then `not`, then the comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`,
/// `matches`); operands are references, JSON literals and the functions `length(x)` and `is_defined(x)`.
public indirect enum RelayCondition: Sendable, Equatable, CustomStringConvertible {
    case or([RelayCondition])
    case and([RelayCondition])
    case not(RelayCondition)
    case comparison(RelayCondition, String, RelayCondition)
    case reference(String)
    case literal(JSONValue)
    case call(String, [RelayCondition])

    /// `not (c)`, folding a double negation.
    public static func negation(_ condition: RelayCondition) -> RelayCondition {
        if case .not(let inner) = condition { return inner }
        return .not(condition)
    }

    /// All of `terms` (none: nil, one: itself), flattening nested `and`s.
    public static func all(_ terms: [RelayCondition]) -> RelayCondition? {
        var flat: [RelayCondition] = []
        for term in terms {
            if case .and(let inner) = term { flat += inner } else { flat.append(term) }
        }
        var unique: [RelayCondition] = []
        for term in flat where !unique.contains(term) { unique.append(term) }
        switch unique.count {
        case 0: return nil
        case 1: return unique[0]
        default: return .and(unique)
        }
    }

    /// Any of `terms`, flattening nested `or`s.
    public static func any(_ terms: [RelayCondition]) -> RelayCondition? {
        var flat: [RelayCondition] = []
        for term in terms {
            if case .or(let inner) = term { flat += inner } else { flat.append(term) }
        }
        var unique: [RelayCondition] = []
        for term in flat where !unique.contains(term) { unique.append(term) }
        switch unique.count {
        case 0: return nil
        case 1: return unique[0]
        default: return .or(unique)
        }
    }

    /// How tightly the form binds: or 1, and 2, not 3, comparison 4, operand 5.
    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .not: 3
        case .comparison: 4
        case .reference, .literal, .call: 5
        }
    }

    public var description: String { render(self, needs: 0) }

    private func render(_ node: RelayCondition, needs level: Int) -> String {
        let text: String
        switch node {
        case .or(let terms): text = terms.map { render($0, needs: 2) }.joined(separator: " or ")
        case .and(let terms): text = terms.map { render($0, needs: 3) }.joined(separator: " and ")
        // `not (a == b)`, never `not a == b`: the parentheses cost nothing and nobody has to know the precedence.
        case .not(let inner): text = "not " + render(inner, needs: 5)
        case .comparison(let left, let op, let right):
            text = "\(render(left, needs: 5)) \(op) \(render(right, needs: 5))"
        case .reference(let path): text = path
        case .literal(let value): text = JSONWriter.compact.string(value)
        case .call(let name, let arguments):
            text = "\(name)(\(arguments.map { render($0, needs: 0) }.joined(separator: ", ")))"
        }
        return node.precedence < level ? "(\(text))" : text
    }
}
