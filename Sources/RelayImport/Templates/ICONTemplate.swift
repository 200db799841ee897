import Foundation
import RelayCore

/// InsightConnect's templated strings (`"… {{[<id>].[title]}} …"`) translated to Relay's (`"… {{
/// steps.lookup.output.title }} …"`). The caller resolves each reference (`ICONReference`) to a Relay reference
/// path; a string with any token that cannot be resolved is not translated, and every reason is returned.
public enum ICONTemplate {
    /// The pieces of a string: literal text and the insides of `{{ … }}` (trimmed).
    public enum Piece: Sendable, Equatable {
        case text(String)
        case token(String)
    }

    /// Splits `text` into pieces; nil when a `{{` has no closing `}}`.
    public static func pieces(_ text: String) -> [Piece]? {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
            // `{{{x}}}` (Handlebars' unescaped form) is the token `{x`.
            let triple = rest[open.upperBound...].hasPrefix("{")
            let start = triple ? rest.index(after: open.upperBound) : open.upperBound
            guard let close = rest[start...].range(of: triple ? "}}}" : "}}") else { return nil }
            let inside = rest[start..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            pieces.append(.token(triple ? "{" + inside : inside))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// Translates one string. `resolve` turns a reference into a Relay reference (`steps.x.output.a`) or a reason.
    public static func translate(
        _ text: String, nodes: Set<String>, resolve: @escaping (ICONReference) -> Result<String, TranslationGap>
    ) -> Result<String, TranslationGaps> {
        translate(text, resolver: TemplateResolver(nodes: nodes, resolve: resolve))
    }

    /// Translates one string: references as `resolver` says, Handlebars blocks into Relay's text templates.
    public static func translate(_ text: String, resolver: TemplateResolver) -> Result<String, TranslationGaps> {
        guard text.contains("{{") else { return .success(text) }
        guard let pieces = pieces(text) else {
            return .failure(TranslationGaps([TranslationGap("\"{{\" without a closing \"}}\" in \(quoted(text))")]))
        }
        return ICONTextTemplate.translate(pieces, text: text, resolver: resolver)
    }

    /// Translates every string in a value with `resolve` for its references.
    public static func translate(
        value: JSONValue, nodes: Set<String>, resolve: @escaping (ICONReference) -> Result<String, TranslationGap>
    ) -> Result<JSONValue, TranslationGaps> {
        translate(value: value, resolver: TemplateResolver(nodes: nodes, resolve: resolve))
    }

    /// Translates every string in a value (arrays and objects included); object keys are kept as they are.
    public static func translate(value: JSONValue, resolver: TemplateResolver) -> Result<JSONValue, TranslationGaps> {
        var gaps: [TranslationGap] = []
        func walk(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let text):
                switch translate(text, resolver: resolver) {
                case .success(let translated): return .string(translated)
                case .failure(let reasons):
                    gaps += reasons.all
                    return value
                }
            case .array(let items):
                var out: [JSONValue] = []
                for item in items { out.append(walk(item)) }
                return .array(out)
            case .object(let object):
                var out = JSONObject()
                for (key, item) in object { out[key] = walk(item) }
                return .object(out)
            default: return value
            }
        }
        let translated = walk(value)
        return gaps.isEmpty ? .success(translated) : .failure(TranslationGaps(gaps))
    }

    /// Whether a value holds a template anywhere.
    public static func containsTemplate(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): text.contains("{{")
        case .array(let items): items.contains(where: containsTemplate)
        case .object(let object): object.values.contains(where: containsTemplate)
        default: false
        }
    }

    static func quoted(_ text: String) -> String {
        let short = text.count > 60 ? String(text.prefix(57)) + "…" : text
        return JSONWriter.compact.string(.string(short))
    }
}

/// Why something of the export was not translated: one sentence a person can act on.
public struct TranslationGap: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Every reason a value was not translated.
public struct TranslationGaps: Error, Sendable, Equatable {
    public var all: [TranslationGap]
    public init(_ all: [TranslationGap]) { self.all = all }
}
