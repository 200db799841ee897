import Foundation

extension Condition.Expression {
    /// The expression's value over `root` (a scope's JSON). Comparisons, `and`, `or`, `not`, `matches` and
    /// `is_defined` give booleans; a missing reference is null. Recurses as deep as the expression is nested, which
    /// the parser bounds.
    func value(in root: JSONValue, _ evaluation: Condition.Evaluation) -> JSONValue {
        switch self {
        case .literal(let value): return value
        case .reference(let path): return (try? Template.resolve(path, in: root)) ?? .null
        case .not(let operand): return .bool(!Condition.isTruthy(operand.value(in: root, evaluation)))
        case .all(let operands):
            return .bool(operands.allSatisfy { Condition.isTruthy($0.value(in: root, evaluation)) })
        case .any(let operands): return .bool(operands.contains { Condition.isTruthy($0.value(in: root, evaluation)) })
        case .compare(let left, let comparison, let right):
            return .bool(comparison.holds(left.value(in: root, evaluation), right.value(in: root, evaluation)))
        case .matches(let left, let pattern):
            return .bool(pattern.matches(left.value(in: root, evaluation), evaluation))
        case .length(let operand): return .int(Self.length(of: operand.value(in: root, evaluation)))
        case .isDefined(let path): return .bool((try? Template.resolve(path, in: root)) != nil)
        }
    }

    /// A string's characters, an array's items, an object's keys; 0 for anything else.
    static func length(of value: JSONValue) -> Int {
        switch value {
        case .string(let text): text.count
        case .array(let items): items.count
        case .object(let object): object.count
        default: 0
        }
    }
}

extension Condition.Comparison {
    /// `==` and `!=` compare any values (`1 == 1.0`; values of different types are not equal); `<`, `<=`, `>`,
    /// `>=` compare two numbers by value or two strings by code points, and are false for anything else;
    /// `contains` looks for a substring in a string, an equal item in an array, a key in an object.
    func holds(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch self {
        case .equals: return left.numericallyEquals(right)
        case .notEquals: return !left.numericallyEquals(right)
        case .less: return Self.order(left, right) == .orderedAscending
        case .lessOrEqual: return Self.order(left, right).map { $0 != .orderedDescending } ?? false
        case .greater: return Self.order(left, right) == .orderedDescending
        case .greaterOrEqual: return Self.order(left, right).map { $0 != .orderedAscending } ?? false
        case .contains:
            switch (left, right) {
            case (.string(let text), .string(let part)): return part.isEmpty || text.contains(part)
            case (.array(let items), _): return items.contains { $0.numericallyEquals(right) }
            case (.object(let object), .string(let key)): return object[key] != nil
            default: return false
            }
        }
    }

    /// The order of two numbers or two strings; nil for any other pair (or a NaN, which JSON cannot hold).
    static func order(_ left: JSONValue, _ right: JSONValue) -> ComparisonResult? {
        func result<T: Comparable>(_ a: T, _ b: T) -> ComparisonResult {
            a < b ? .orderedAscending : a > b ? .orderedDescending : .orderedSame
        }
        switch (left, right) {
        case (.string(let a), .string(let b)):
            if JSONWriter.codePointOrder(a, b) { return .orderedAscending }
            return JSONWriter.codePointOrder(b, a) ? .orderedDescending : .orderedSame
        case (.int(let a), .int(let b)): return result(a, b)
        case (.int, .bigInt), (.bigInt, .int), (.bigInt, .bigInt):
            guard let a = left.bigIntValue, let b = right.bigIntValue else { return nil }
            return result(a, b)
        case (.int, .double), (.double, .int), (.double, .double), (.bigInt, .double), (.double, .bigInt):
            guard let a = left.doubleValue, let b = right.doubleValue, !a.isNaN, !b.isNaN else { return nil }
            return result(a, b)
        default: return nil
        }
    }
}

extension Condition.Pattern {
    /// Whether the regular expression matches anywhere in `value` as text: a string as it is, a number or a boolean
    /// (or an array or an object) as JSON; null (a missing value) never matches.
    func matches(_ value: JSONValue, _ evaluation: Condition.Evaluation) -> Bool {
        let text: String
        switch value {
        case .null: return false
        case .string(let string): text = string
        default: text = JSONWriter.compact.string(value)
        }
        // A search that takes longer than `RegexSearch.limit` (a pattern that backtracks without end) is stopped:
        // the condition cannot be decided (`Condition.decide` says so), and the dispatcher goes on deciding.
        guard case .matches(let found) = RegexSearch.search(regex, in: text, all: false) else {
            evaluation.timedOut = (source, text.utf16.count)
            return false
        }
        return !found.isEmpty
    }
}
