import Foundation

/// A step's `when:`, an expression over the run (the trigger, the steps before it, the workflow's `vars`):
///
/// ```
/// steps.check.status == "failed"
/// trigger.severity != low                                   (a bare word on the right is a string)
/// steps.lookup.output.found                                 (truthy)
/// not steps.x.output.ok
/// length(steps.scan.output.hosts) > 0 and (trigger.kind == "alert" or vars.always)
/// steps.vuln.output.cves contains "CVE-2020-1472"
/// trigger.json.os matches "(?i)windows"
/// is_defined(steps.lookup.output["Threat Score"])
/// ```
///
/// Precedence, loosest first: `or`, `and`, `not`, a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`,
/// `matches`), an operand: a reference (as in templates, `ReferencePath`), a JSON literal (a number, `"string"` or
/// `'string'`, `true`, `false`, `null`, `[…]`, `{…}`), `length(x)`, `is_defined(reference)` or `( expression )`.
/// A missing reference is null. The whole may be written inside `{{ }}`.
///
/// Limits: at most `maximumLength` characters and `maximumDepth` levels of nesting (parentheses, `not`, functions),
/// so that parsing and evaluation recurse a bounded number of times; errors name the character where the problem
/// is (`expected an operand after "and" at character 17, found ")"`).
public struct Condition: Sendable, Equatable, CustomStringConvertible {
    /// The most characters a condition may have.
    public static let maximumLength = 4096
    /// The deepest nesting of parentheses, `not` and function calls.
    public static let maximumDepth = 64

    /// The text it was read from.
    public let description: String
    /// Every reference the condition reads (each a path, as `Template.path` gives), in the order written.
    public let references: [[String]]
    let expression: Expression

    public init(_ text: String) throws(TemplateError) {
        var parser = try ConditionParser(text)
        expression = try parser.parseCondition()
        references = parser.references
        description = text
    }

    /// Whether the condition holds: its value is truthy (see `isTruthy`). False when it cannot be decided (see
    /// `decide`).
    public func holds(in scope: Template.Scope) -> Bool {
        (try? decide(in: scope)) ?? false
    }

    /// Whether the condition holds, or why it cannot be decided: a `matches` whose search took longer than
    /// `RegexSearch.limit` (a value from outside can make a pattern backtrack without end; guessing false would let
    /// it choose the branch).
    public func decide(in scope: Template.Scope) throws(TemplateError) -> Bool {
        let evaluation = Evaluation()
        let value = expression.value(in: scope.json, evaluation)
        if let (pattern, length) = evaluation.timedOut {
            throw TemplateError(
                message: "matches \"\(pattern)\" took longer than \(RegexSearch.limit) on a text of \(length) "
                    + "characters; it backtracks too much (simplify the pattern)")
        }
        return Self.isTruthy(value)
    }

    /// What one evaluation noticed on its way.
    final class Evaluation {
        /// A `matches` search stopped by its time limit: its pattern and the length of its text.
        var timedOut: (String, Int)?
    }

    /// Two conditions are equal when they were read from the same text.
    public static func == (lhs: Condition, rhs: Condition) -> Bool { lhs.description == rhs.description }

    /// False for `null`, `false`, `0`, `""`, `[]` and `{}`; true for anything else.
    public static func isTruthy(_ value: JSONValue) -> Bool {
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

extension Condition {
    /// A parsed condition. `and` and `or` hold all their operands in one node, so that a long chain adds no depth.
    indirect enum Expression: Sendable {
        case literal(JSONValue)
        case reference([String])
        case not(Expression)
        case all([Expression])
        case any([Expression])
        case compare(Expression, Comparison, Expression)
        case matches(Expression, Pattern)
        case length(Expression)
        case isDefined([String])
    }

    enum Comparison: String, Sendable, CaseIterable {
        case equals = "=="
        case notEquals = "!="
        case lessOrEqual = "<="
        case greaterOrEqual = ">="
        case less = "<"
        case greater = ">"
        case contains
    }

    /// A regular expression of `matches`, compiled once when the condition is read.
    struct Pattern: @unchecked Sendable {
        // @unchecked: NSRegularExpression is immutable and documented as safe to use from several threads at once.
        let source: String
        let regex: NSRegularExpression
    }
}
