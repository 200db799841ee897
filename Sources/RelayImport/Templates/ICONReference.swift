import Foundation

/// What an InsightConnect template or expression variable points at: `[<node id>].[a].[b]` (a step's or the
/// trigger's output), `$workflow.[Name]` (a workflow variable), `[$job].[URL]`, or something this slice cannot
/// express (a name left over after a rename, `this` outside a block).
public enum ICONReference: Sendable, Equatable {
    /// A node's output (or `$item`, `$outputs`, `$success` … as the first path segment), by node id.
    case node(id: String, path: [String])
    /// `{{$workflow.[Name]}}` or `{{[$workflow].[Name]}}`, with a path into the value.
    case variable(name: String, path: [String])
    /// `{{[$job].[URL]}}`.
    case job(path: [String])
    /// Anything else, with why it cannot be translated.
    case unsupported(String)

    /// Reads the inside of `{{ … }}` (already trimmed): `[<id>].[a].[0]`, `$workflow.[Name]`, `#each …`.
    /// `nodes` are the file's node ids.
    public static func parse(token: String, nodes: Set<String>) -> ICONReference {
        guard let first = token.first else { return .unsupported("an empty {{}}") }
        if first == "#" || first == "/" || token == "else" || token.hasPrefix("else ") || first == "^" {
            let word = token.split(separator: " ").first.map(String.init) ?? token
            return .unsupported("the Handlebars block form {{\(word)}} where one reference is expected")
        }
        if first == "!" || first == ">" || token.hasPrefix("{") {
            return .unsupported("the Handlebars form {{\(token)}} (comments, partials and raw blocks)")
        }
        guard let segments = segments(of: token) else {
            return .unsupported("\"\(token)\" is not a reference of the form [step].[field]")
        }
        return classify(segments, bracketed: token.hasPrefix("["), nodes: nodes, text: token)
    }

    /// Reads an expression variable's name, a dotted path: `<node id>.$item`, `$workflow.Max Vulnerabilities`.
    public static func parse(variable name: String, nodes: Set<String>) -> ICONReference {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else {
            return .unsupported("the variable \"\(name)\" has an empty path segment")
        }
        if parts[0] == "$workflow", parts.count >= 2 {
            // A variable's name may hold dots of its own: everything after `$workflow.` is the name.
            return .variable(name: parts.dropFirst().joined(separator: "."), path: [])
        }
        return classify(parts, bracketed: true, nodes: nodes, text: name)
    }

    static func classify(_ segments: [String], bracketed: Bool, nodes: Set<String>, text: String) -> ICONReference {
        let head = segments[0]
        let rest = Array(segments.dropFirst())
        if head == "$workflow" {
            guard let name = rest.first else { return .unsupported("{{$workflow}} without a variable name") }
            return .variable(name: name, path: Array(rest.dropFirst()))
        }
        if head == "$job" { return .job(path: rest) }
        if nodes.contains(head) { return .node(id: head, path: rest) }
        if head == "this" || head == "." || head.hasPrefix("@") || head.hasPrefix("../") {
            return .unsupported("\"\(text)\" refers to the current element of a {{#each}} block, outside any")
        }
        if isNodeID(head) {
            return .unsupported("\"\(text)\" names node \(head), which is not in this workflow")
        }
        if !bracketed {
            return .unsupported("\"\(text)\" is a field of the current element of a {{#each}} block, outside any")
        }
        return .unsupported(
            "\"\(text)\" refers to a step by the name \(head), and no step has that id (a reference by name left "
                + "over after a rename; InsightConnect resolves references by node id)")
    }

    /// Splits `[a].[b c].d` into ["a", "b c", "d"]; nil when the text is not such a path.
    static func segments(of text: String) -> [String]? {
        var segments: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.first == "[" {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                segments.append(String(rest[rest.index(after: rest.startIndex)..<close]))
                rest = rest[rest.index(after: close)...]
            } else {
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                let word = rest[..<end]
                guard !word.isEmpty, !word.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" || $0 == "]" })
                else { return nil }
                segments.append(String(word))
                rest = rest[end...]
            }
            if rest.first == "." {
                rest = rest.dropFirst()
                guard !rest.isEmpty else { return nil }
            } else if !rest.isEmpty, rest.first != "[" {
                return nil
            } else if rest.first == "[" {
                // `[a][b]` is not InsightConnect's form; only `[a].[b]`.
                return nil
            }
        }
        return segments.isEmpty ? nil : segments
    }

    /// A UUID as InsightConnect writes node ids.
    static func isNodeID(_ text: String) -> Bool {
        text.utf8.count == 36
            && text.range(
                of: #"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#,
                options: .regularExpression) != nil
    }
}
