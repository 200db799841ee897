import OrderedCollections
import Synchronization

/// Step inputs as templates: `{{ trigger.alert.host }}`, `{{ steps.lookup.output.ip }}`,
/// `{{ steps.lookup.output["Threat Score"] }}`, `{{ vars["Channel Name"] }}`. A string that is exactly
/// one reference keeps the referenced value's JSON type (a number stays a number, an object an object); a
/// reference inside other text is written into it (strings as they are, anything else as JSON). A string holding a
/// block tag (`{{#each …}}`, `{{#if …}}`) is a `TextTemplate` instead, which renders to a string.
public enum Template {
    /// What templates can see: the trigger's event, each finished step (`status`, `output`, `error`) and the
    /// workflow's `vars`; in the input of one item of a `for_each` step, also `item` and `index`.
    public struct Scope: Sendable {
        public var trigger: JSONValue
        public var steps: JSONObject
        /// The workflow's variables (`vars:`), by name.
        public var vars: JSONObject
        /// The item of a `for_each` step being rendered, and its position.
        public var item: JSONValue?
        public var index: Int?
        /// The run being rendered (`run.id`, `run.workflow`), when known.
        public var run: JSONValue?

        public init(
            trigger: JSONValue, steps: JSONObject = [:], vars: JSONObject = [:], item: JSONValue? = nil,
            index: Int? = nil, run: JSONValue? = nil
        ) {
            self.trigger = trigger
            self.steps = steps
            self.vars = vars
            self.item = item
            self.index = index
            self.run = run
        }

        public var json: JSONValue {
            var json: JSONObject = ["trigger": trigger, "steps": .object(steps), "vars": .object(vars)]
            if let item { json["item"] = item }
            if let index { json["index"] = .int(index) }
            if let run { json["run"] = run }
            return .object(json)
        }
    }

    /// Renders every string of `template`. A reference to something missing is an error naming it.
    public static func render(_ template: JSONValue, scope: Scope) throws(TemplateError) -> JSONValue {
        switch template {
        case .string(let text): return try renderString(text, scope: scope)
        case .array(let items):
            var out: [JSONValue] = []
            for item in items { out.append(try render(item, scope: scope)) }
            return .array(out)
        case .object(let object):
            var out = JSONObject()
            for (key, value) in object { out[key] = try render(value, scope: scope) }
            return .object(out)
        default: return template
        }
    }

    static func renderString(_ text: String, scope: Scope) throws(TemplateError) -> JSONValue {
        let pieces = try parse(text)
        if pieces.isEmpty { return .string("") }
        if pieces.count == 1, case .text(let literal) = pieces[0] { return .string(literal) }
        if pieces.count == 1, case .reference(let path) = pieces[0] { return try resolve(path, in: scope) }
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let literal): out += literal
            case .reference(let path):
                let value = try resolve(path, in: scope)
                out += value.stringValue ?? JSONWriter.compact.string(value)
            case .textTemplate(let template): out += try template.render(scope: scope)
            }
        }
        return .string(out)
    }

    enum Piece: Equatable, Sendable {
        case text(String)
        case reference([String])
        /// The whole string, when it holds a block tag.
        case textTemplate(TextTemplate)
    }

    /// Splits text into literal runs and `{{ path }}` references. A `"}}"` inside a quoted key
    /// (`{{ trigger["}}"] }}`) does not close the reference. Text holding a block tag (`{{#`) is one text template.
    /// A workflow's templates are rendered again for every run: what a text parses to is kept (`ParsedTemplates`).
    static func parse(_ text: String) throws(TemplateError) -> [Piece] {
        // Plain text (no `{{`) is not kept: a workflow's literal strings need no parse.
        guard hasOpening(text) else { return text.isEmpty ? [] : [.text(text)] }
        if let pieces = ParsedTemplates.shared.pieces(of: text) { return pieces }
        let pieces = try parseAnew(text)
        ParsedTemplates.shared.keep(pieces, of: text)
        return pieces
    }

    /// Whether `text` holds `{{`.
    static func hasOpening(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "{"), previous == byte { return true }
            previous = byte
        }
        return false
    }

    static func parseAnew(_ text: String) throws(TemplateError) -> [Piece] {
        if TextTemplate.isBlockTemplate(text) { return [.textTemplate(try TextTemplate(text))] }
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = closing(in: rest[open.upperBound...]) else {
                throw TemplateError(message: "\"{{\" without a closing \"}}\" in \"\(text)\"")
            }
            pieces.append(.reference(try path(String(rest[open.upperBound..<close.lowerBound]))))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// The first `}}` of `text` outside a double-quoted string.
    static func closing(in text: Substring) -> Range<Substring.Index>? {
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        var inString = false
        while index < scalars.endIndex {
            let scalar = scalars[index]
            let next = scalars.index(after: index)
            if inString {
                if scalar == "\\" {
                    guard next < scalars.endIndex else { return nil }
                    index = scalars.index(after: next)
                    continue
                }
                if scalar == "\"" { inString = false }
            } else if scalar == "\"" {
                inString = true
            } else if scalar == "}", next < scalars.endIndex, scalars[next] == "}" {
                return index..<scalars.index(after: next)
            }
            index = next
        }
        return nil
    }

    /// `steps.lookup.output.ips[0]` → ["steps", "lookup", "output", "ips", "0"]; `steps.lookup.output["Threat
    /// Score"]` → ["steps", "lookup", "output", "Threat Score"] (see `ReferencePath` for the syntax).
    public static func path(_ expression: String) throws(TemplateError) -> [String] {
        let characters = Array(expression.trimmingWhitespace)
        let shown = String(characters)
        guard let first = characters.first, ReferencePath.isBare(first) else {
            throw TemplateError(
                message: "\"\(shown)\" is not a reference like trigger.field or steps.ID.output.field")
        }
        let scanned: (path: [String], end: Int)
        do {
            scanned = try ReferencePath.scan(characters, from: 0)
        } catch {
            throw TemplateError(message: "\"\(shown)\": \(error.message)")
        }
        try ReferencePath.checkRoot(scanned.path, expression: shown)
        let rest = ReferencePath.skipSpaces(characters, from: scanned.end)
        guard rest == characters.count else {
            throw TemplateError(
                message: "\"\(shown)\": expected the end of the reference at character \(rest + 1), found "
                    + ReferencePath.found(characters, at: rest))
        }
        return scanned.path
    }

    /// A path as it is written in a template: `steps.lookup.output["Threat Score"][0]`.
    public static func text(of path: [String]) -> String { ReferencePath.text(of: path) }

    /// The value at `path`, or an error naming the first part that is missing.
    public static func resolve(_ path: [String], in root: JSONValue) throws(TemplateError) -> JSONValue {
        try resolve(path, from: root, depth: 0)
    }

    /// What `path` refers to in `scope`, as `resolve(path, in: scope.json)` finds it, without making that object
    /// (its first part is one of the scope's own members).
    public static func resolve(_ path: [String], in scope: Scope) throws(TemplateError) -> JSONValue {
        guard let first = path.first else { return scope.json }
        let start: JSONValue? =
            switch first {
            case "trigger": scope.trigger
            case "steps": .object(scope.steps)
            case "vars": .object(scope.vars)
            case "item": scope.item
            case "index": scope.index.map { .int($0) }
            case "run": scope.run
            default: nil
            }
        guard let start else { throw TemplateError(message: "\(text(of: [first])) does not exist") }
        return try resolve(path, from: start, depth: 1)
    }

    /// Walks `path` from its part at `depth` on, `node` being what its parts before that refer to.
    private static func resolve(_ path: [String], from node: JSONValue, depth start: Int) throws(TemplateError)
        -> JSONValue
    {
        var node = node
        for depth in path.indices.dropFirst(start) {
            let part = path[depth]
            switch node {
            case .object(let object):
                guard let next = object[part] else {
                    throw TemplateError(message: "\(text(of: Array(path.prefix(depth + 1)))) does not exist")
                }
                node = next
            case .array(let items):
                guard let index = Int(part), items.indices.contains(index) else {
                    throw TemplateError(
                        message:
                            "\(text(of: Array(path.prefix(depth)))): no item \(part) in a list of \(items.count)")
                }
                node = items[index]
            default:
                throw TemplateError(
                    message: "\(text(of: Array(path.prefix(depth)))) is \(node.typeName), it has no \(part)")
            }
        }
        return node
    }

    /// The path of a text that is exactly one reference (`"{{ steps.list.output.ips }}"`), which renders to the
    /// value's own JSON type; nil for any other text. Throws when the text is not a valid template.
    public static func singleReference(_ text: String) throws(TemplateError) -> [String]? {
        let pieces = try parse(text)
        guard pieces.count == 1, case .reference(let path) = pieces[0] else { return nil }
        return path
    }

    /// Every reference in a template, for checking workflows before they run (of a text template, those from
    /// Relay's roots).
    public static func references(in template: JSONValue) throws(TemplateError) -> [[String]] {
        switch template {
        case .string(let text):
            return try parse(text).flatMap { piece in
                switch piece {
                case .text: return [[String]]()
                case .reference(let path): return [path]
                case .textTemplate(let template): return template.references
                }
            }
        case .array(let items):
            var all: [[String]] = []
            for item in items { all += try references(in: item) }
            return all
        case .object(let object):
            var all: [[String]] = []
            for value in object.values { all += try references(in: value) }
            return all
        default: return []
        }
    }
}

/// What template texts parsed to, shared by every rendering in the process: the dispatcher renders the same
/// workflow's inputs for every run, and parsing (the reference scanner, a text template's tree) costs more than
/// resolving. Bounded by the bytes of text kept (texts past `longestKept` are not kept); when full it starts
/// over. Texts that do not parse are not kept: they throw again, with the same message.
final class ParsedTemplates: Sendable {
    static let shared = ParsedTemplates()
    /// The most UTF-8 bytes of template text kept.
    static let mostBytes = 4 << 20
    /// The longest text kept, in UTF-8 bytes.
    static let longestKept = 64 << 10

    private let state = Mutex<(pieces: [String: [Template.Piece]], bytes: Int)>(([:], 0))

    func pieces(of text: String) -> [Template.Piece]? { state.withLock { $0.pieces[text] } }

    func keep(_ pieces: [Template.Piece], of text: String) {
        let size = text.utf8.count
        guard size <= Self.longestKept else { return }
        state.withLock { state in
            if state.bytes + size > Self.mostBytes { state = ([:], 0) }
            if state.pieces.updateValue(pieces, forKey: text) == nil { state.bytes += size }
        }
    }
}

public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
