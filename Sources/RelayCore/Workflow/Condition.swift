import Foundation

/// A step's `when:`: `steps.check.status == "failed"`, `trigger.severity != "low"`, `steps.lookup.output.found`
/// (true when the value is truthy), `not steps.x.output.ok`. Values on the right are JSON literals (quotes
/// optional for bare words).
public struct Condition: Sendable, Equatable, CustomStringConvertible {
    public enum Operator: String, Sendable {
        case equals = "=="
        case notEquals = "!="
        case truthy, falsy
    }

    public var path: [String]
    public var op: Operator
    public var value: JSONValue
    public var description: String

    public init(_ text: String) throws(TemplateError) {
        description = text
        var expression = text.trimmingCharacters(in: .whitespaces)
        if expression.hasPrefix("{{"), expression.hasSuffix("}}") {
            expression = String(expression.dropFirst(2).dropLast(2)).trimmingCharacters(in: .whitespaces)
        }
        for candidate in [Operator.equals, .notEquals] {
            if let range = expression.range(of: " \(candidate.rawValue) ") {
                path = try Template.path(String(expression[..<range.lowerBound]).trimmingCharacters(in: .whitespaces))
                op = candidate
                let literal = expression[range.upperBound...].trimmingCharacters(in: .whitespaces)
                if let parsed = try? JSONParser.parse(literal) {
                    value = parsed
                } else if literal.hasPrefix("'"), literal.hasSuffix("'"), literal.count >= 2 {
                    value = .string(String(literal.dropFirst().dropLast()))
                } else {
                    value = .string(literal)
                }
                return
            }
        }
        if expression.hasPrefix("not ") {
            path = try Template.path(String(expression.dropFirst(4)).trimmingCharacters(in: .whitespaces))
            op = .falsy
        } else {
            path = try Template.path(expression)
            op = .truthy
        }
        value = .null
    }

    /// Whether the condition holds; a missing value is null.
    public func holds(in scope: Template.Scope) -> Bool {
        let actual = (try? Template.resolve(path, in: scope.json)) ?? .null
        switch op {
        case .equals: return actual.numericallyEquals(value)
        case .notEquals: return !actual.numericallyEquals(value)
        case .truthy: return Condition.isTruthy(actual)
        case .falsy: return !Condition.isTruthy(actual)
        }
    }

    static func isTruthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .bigInt: true // never zero
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
        }
    }
}
