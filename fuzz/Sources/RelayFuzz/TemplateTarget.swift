import Foundation
import RelayCore

/// Templates (`{{ steps.lookup.output.ip }}`), text templates (`{{#each …}}`, see `TemplateTarget+Text.swift`) and
/// conditions (`steps.check.status == "failed"`). The input is a template, as JSON when it parses as JSON and as one
/// template string otherwise; after a NUL byte, optionally, the trigger event as JSON. Invariants:
/// - rendering fails exactly when a reference does not parse or does not resolve in the scope (for templates
///   without block tags: a text template's `#if` reads missing references as false, and its relative references
///   are not listed);
/// - a template without references renders to itself; a string that is one reference renders to its value;
/// - every reference (of a template or a condition) starts with `trigger`, `steps`, `vars` or `run`, or is a
///   for_each step's `item` (and what is in it) or `index` (alone);
/// - a condition and its negation `not (…)` give opposite answers; reading a condition and evaluating it never
///   traps, whatever its nesting (errors past the limits).
enum TemplateTarget {
    static let defaultTrigger: JSONValue = [
        "alert": ["host": "web-1", "severity": 3, "ips": ["10.0.0.1", "10.0.0.2"], "ok": true, "ratio": 0.5],
        "empty": [:], "list": [], "none": nil, "": "blank",
    ]
    static let vars: JSONObject = ["Channel Name": "#soc", "max": 3, "hosts": ["a", "b"]]
    static let steps: JSONObject = [
        "lookup": ["status": "succeeded", "output": ["ip": "10.0.0.1", "found": true, "ports": [22, 443]]],
        "check": ["status": "failed", "error": "timed out"],
    ]
    static let run: JSONValue = ["id": "run-1", "workflow": "triage"]

    static func run(_ bytes: [UInt8]) {
        let split = bytes.firstIndex(of: 0)
        let templateBytes = Array(bytes[..<(split ?? bytes.endIndex)])
        var trigger = defaultTrigger
        if let split, let event = try? JSONParser.parse(bytes: Array(bytes[(split + 1)...])) { trigger = event }
        let scope = Template.Scope(trigger: trigger, steps: steps, vars: vars, run: run)
        let text = String(decoding: templateBytes, as: UTF8.self)
        let template = (try? JSONParser.parse(bytes: templateBytes)) ?? .string(text)

        checkRender(template, scope: scope)
        for string in strings(in: template) {
            checkCondition(string, scope: scope)
            checkText(string, scope: scope)
        }
    }

    static func checkRender(_ template: JSONValue, scope: Template.Scope) {
        let references: [[String]]
        do throws(TemplateError) {
            references = try Template.references(in: template)
        } catch {
            let rendered = try? Template.render(template, scope: scope)
            return fuzzCheck(rendered == nil, "a template whose references do not parse rendered: \(error)")
        }
        for path in references {
            fuzzCheck(Self.rootsAllowed(path), "reference \(path) starts elsewhere")
        }
        // A text template's references may be missing (#if reads them as false) and its relative ones are not
        // listed: those are checked in checkText.
        guard !strings(in: template).contains(where: TextTemplate.isBlockTemplate) else { return }
        let resolves = references.allSatisfy { (try? Template.resolve($0, in: scope.json)) != nil }
        let rendered: JSONValue
        do throws(TemplateError) {
            rendered = try Template.render(template, scope: scope)
        } catch {
            return fuzzCheck(!resolves, "a template whose references all resolve failed to render: \(error)")
        }
        fuzzCheck(resolves, "a template with a reference that does not resolve rendered to \(excerpt(rendered))")
        if references.isEmpty {
            fuzzCheck(FuzzJSON.identical(rendered, template, keyOrder: true), "a template without references changed")
        }
        // A string that is exactly `{{ path }}`: it starts with "{{" and its first "}}" ends it.
        if case .string(let text) = template, references.count == 1, text.hasPrefix("{{"),
            let close = text.range(of: "}}", range: text.index(text.startIndex, offsetBy: 2)..<text.endIndex),
            close.upperBound == text.endIndex, let value = try? Template.resolve(references[0], in: scope.json)
        {
            fuzzCheck(FuzzJSON.identical(rendered, value, keyOrder: true), "\(text) did not render to its value")
        }
    }

    /// A reference starts with trigger, steps, vars or run, or is a for_each step's item (and what is in it) or its
    /// index (alone: a number has no fields).
    static func rootsAllowed(_ path: [String]) -> Bool {
        switch path.first {
        case "trigger", "steps", "vars", "item", "run": return true
        case "index": return path.count == 1
        default: return false
        }
    }

    static func checkCondition(_ text: String, scope: Template.Scope) {
        guard let condition = try? Condition(text) else { return }
        for path in condition.references {
            fuzzCheck(Self.rootsAllowed(path), "condition \(text) reads \(path)")
        }
        let holds = condition.holds(in: scope)
        // The negation, unless the parentheses take it past the nesting limit (or the text is inside {{ }}).
        guard let opposite = try? Condition("not (\(text))") else { return }
        fuzzCheck(opposite.holds(in: scope) != holds, "\(text) and its negation agree")
    }

    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let s): return [s]
        case .array(let items): return items.flatMap(strings)
        case .object(let object): return object.keys.map { $0 } + object.values.flatMap(strings)
        default: return []
        }
    }
}
