import OrderedCollections
import RelayCore

/// Validates JSON values against the JSON schemas generated from plugin specs, the way the InsightConnect runtime
/// does (`jsonschema.validate`, then the runtime's own check that required inputs are not null or ""):
///
/// - `type` (`integer` accepts a float with no fractional part, booleans are not numbers), `required`,
///   `properties`, `items`, `enum`, `const`, `$ref` into the schema's own `definitions`, `allOf`/`anyOf`/`oneOf`;
/// - extra properties are allowed (the generated schemas never forbid them);
/// - defaults are **not** injected and `format` is **not** checked, as in the runtime.
///
/// Every problem is reported with its JSON path: `input.urls[2]: expected string, found integer`.
public struct SchemaValidator: Sendable {
    public struct Options: Sendable {
        /// Also reject `null` and `""` for required top-level properties (the runtime does this for action,
        /// trigger and task inputs only).
        public var rejectEmptyRequired: Bool
        /// Stop after this many problems.
        public var maximumProblems: Int

        public init(rejectEmptyRequired: Bool = false, maximumProblems: Int = 50) {
            self.rejectEmptyRequired = rejectEmptyRequired
            self.maximumProblems = maximumProblems
        }

        /// The runtime's rules for action, trigger and task inputs.
        public static let input = Options(rejectEmptyRequired: true)
        /// The runtime's rules for connections, outputs and task state.
        public static let standard = Options()
    }

    public let schema: JSONValue
    public let options: Options
    /// `schema`'s keywords, read once: checking a value looks up no keyword by name.
    private let compiled: CompiledSchema

    public init(schema: JSONValue, options: Options = .standard) {
        self.schema = schema
        self.options = options
        self.compiled = CompiledSchema(schema)
    }

    /// Every problem found, in document order; empty when the value is valid.
    public func validate(_ value: JSONValue, at root: JSONPath = JSONPath(root: "input")) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        var path = root
        check(value, against: 0, path: &path, depth: 0, into: &problems)
        if options.rejectEmptyRequired, case .object(let object) = value {
            for key in compiled.nodes[0].rules.required {
                guard let item = object[key] else { continue }
                if item.isNull || item == .string("") {
                    problems.append(
                        ValidationProblem(
                            path: root.appending(key),
                            message: "required input is \(item.isNull ? "null" : "an empty string")"))
                }
            }
        }
        return Array(problems.prefix(options.maximumProblems))
    }

    // MARK: - Keywords

    private func check(
        _ value: JSONValue, against index: Int, path: inout JSONPath, depth: Int,
        into problems: inout [ValidationProblem]
    ) {
        guard problems.count < options.maximumProblems else { return }
        let node = compiled.nodes[index]
        switch node.rules.kind {
        case .anything: return
        case .nothing:
            problems.append(ValidationProblem(path: path, message: "no value is allowed here"))
            return
        case .keywords: break
        }
        if let reference = node.rules.reference {
            guard depth < 64 else {
                problems.append(
                    ValidationProblem(path: path, message: "schema reference \(reference.text) nests too deeply"))
                return
            }
            guard let target = reference.target else {
                problems.append(
                    ValidationProblem(
                        path: path, message: "the schema refers to \(reference.text), which it does not define"))
                return
            }
            check(value, against: target, path: &path, depth: depth + 1, into: &problems)
        }
        if let type = node.rules.type, !type.matches(value) {
            problems.append(
                ValidationProblem(path: path, message: "expected \(type.description), found \(value.typeName)"))
            return
        }
        if let allowed = node.rules.allowed, !allowed.contains(where: { equal($0, value) }) {
            let list = allowed.map { JSONWriter.compact.string($0) }.joined(separator: ", ")
            problems.append(
                ValidationProblem(
                    path: path, message: "expected one of [\(list)], found \(JSONWriter.compact.string(value))"))
        }
        if let constant = node.rules.constant, !equal(constant, value) {
            problems.append(
                ValidationProblem(
                    path: path,
                    message:
                        "expected \(JSONWriter.compact.string(constant)), found \(JSONWriter.compact.string(value))"))
        }
        if case .object(let object) = value {
            for key in node.rules.required where object[key] == nil {
                problems.append(ValidationProblem(path: path.appending(key), message: "required property is missing"))
            }
            if !node.rules.properties.isEmpty || node.rules.additional != nil {
                let keys = Self.inCodePointOrder(object.keys)
                for key in keys {
                    if let property = node.rules.properties[key] {
                        check(
                            object[key]!, against: property, at: .key(key), path: &path, depth: depth, into: &problems)
                    }
                }
                if let additional = node.rules.additional {
                    for key in keys where node.rules.properties[key] == nil {
                        check(
                            object[key]!, against: additional, at: .key(key), path: &path, depth: depth, into: &problems
                        )
                    }
                }
            }
        }
        if case .array(let items) = value {
            switch node.rules.items {
            case nil: break
            case .tuple(let tuple):
                for (index, item) in items.enumerated() where index < tuple.count {
                    check(item, against: tuple[index], at: .index(index), path: &path, depth: depth, into: &problems)
                }
            case .each(let schema):
                for (index, item) in items.enumerated() {
                    check(item, against: schema, at: .index(index), path: &path, depth: depth, into: &problems)
                }
            }
        }
        for sub in node.rules.allOf { check(value, against: sub, path: &path, depth: depth + 1, into: &problems) }
        if !node.rules.anyOf.isEmpty {
            let passing = node.rules.anyOf.filter { errors(value, $0, path, depth).isEmpty }
            if passing.isEmpty {
                problems.append(
                    ValidationProblem(
                        path: path, message: "matches none of the \(node.rules.anyOf.count) allowed shapes"))
            }
        }
        if !node.rules.oneOf.isEmpty {
            let passing = node.rules.oneOf.filter { errors(value, $0, path, depth).isEmpty }.count
            if passing != 1 {
                problems.append(
                    ValidationProblem(
                        path: path,
                        message: passing == 0
                            ? "matches none of the \(node.rules.oneOf.count) allowed shapes"
                            : "matches \(passing) of the allowed shapes, expected exactly one"))
            }
        }
    }

    /// `check` of a member or an item of the value at `path`: `path` extended by `component` (in place) while it is
    /// checked.
    private func check(
        _ value: JSONValue, against schema: Int, at component: JSONPath.Component, path: inout JSONPath,
        depth: Int, into problems: inout [ValidationProblem]
    ) {
        path.components.append(component)
        check(value, against: schema, path: &path, depth: depth, into: &problems)
        path.components.removeLast()
    }

    private func errors(_ value: JSONValue, _ schema: Int, _ path: JSONPath, _ depth: Int) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        var path = path
        check(value, against: schema, path: &path, depth: depth + 1, into: &problems)
        return problems
    }

    /// An object's keys in Unicode code point order (the order problems are reported in): as they are when they are
    /// in that order already (one key, or keys written sorted), without sorting them into a new array.
    private static func inCodePointOrder(_ keys: OrderedSet<String>) -> [String] {
        if keys.count < 2 || zip(keys, keys.dropFirst()).allSatisfy({ JSONWriter.codePointOrder($0, $1) }) {
            return keys.elements
        }
        return keys.sorted(by: JSONWriter.codePointOrder)
    }

    /// JSON equality as `jsonschema` sees it: `1 == 1.0`, but `true != 1`.
    private func equal(_ a: JSONValue, _ b: JSONValue) -> Bool { a.numericallyEquals(b) }
}

/// A schema with its keywords read into nodes (`SchemaValidator`'s), each subschema once; `$ref`s are resolved
/// to the node of their target, so a recursive schema is a cycle of nodes. Node 0 is the root.
private final class CompiledSchema: Sendable {
    /// A subschema's rules (a class: checking a value reads them without copying them).
    final class Node: Sendable {
        let rules: Rules

        init(_ rules: Rules) { self.rules = rules }
    }

    struct Rules: Sendable {
        enum Kind: Sendable {
            /// Not an object and not `false` (`true`, or anything else): constrains nothing.
            case anything
            /// `false`: no value is allowed.
            case nothing
            case keywords
        }

        var kind: Kind = .anything
        var reference: Reference?
        var type: TypeRule?
        var allowed: [JSONValue]?
        var constant: JSONValue?
        var required: [String] = []
        var properties: [String: Int] = [:]
        /// `additionalProperties` when it is not `true`.
        var additional: Int?
        var items: Items?
        var allOf: [Int] = []
        var anyOf: [Int] = []
        var oneOf: [Int] = []
    }

    struct Reference: Sendable {
        var text: String
        /// Its target's node; nil when the schema does not define it.
        var target: Int?
    }

    enum Items: Sendable {
        case each(Int)
        case tuple([Int])
    }

    /// The `type` keyword: a name, or a list of names any of which may match; anything else constrains nothing.
    struct TypeRule: Sendable {
        enum Name: Sendable {
            case string, boolean, null, array, object, integer, number
            /// A name JSON Schema does not know: constrains nothing.
            case unknown
            /// An entry of a list that is not a name: matches nothing.
            case notAName
        }

        var names: [Name]
        var description: String

        init?(_ type: JSONValue) {
            switch type {
            case .string(let name):
                names = [Self.name(name)]
                description = name
            case .array(let list):
                names = list.map { $0.stringValue.map(Self.name) ?? .notAName }
                description = list.compactMap(\.stringValue).joined(separator: " or ")
            default:
                return nil
            }
        }

        static func name(_ text: String) -> Name {
            switch text {
            case "string": .string
            case "boolean": .boolean
            case "null": .null
            case "array": .array
            case "object": .object
            case "integer": .integer
            case "number": .number
            default: .unknown
            }
        }

        func matches(_ value: JSONValue) -> Bool {
            names.contains { name in
                switch (name, value) {
                case (.unknown, _): true
                case (.notAName, _): false
                case (.string, .string), (.boolean, .bool), (.null, .null), (.array, .array), (.object, .object): true
                case (.integer, .int), (.integer, .bigInt): true
                case (.integer, .double(let d)): d.isFinite && d.rounded() == d
                case (.number, .int), (.number, .bigInt), (.number, .double): true
                default: false
                }
            }
        }
    }

    /// Node 0 is the root's.
    let nodes: [Node]

    init(_ schema: JSONValue) {
        var builder = Builder(root: schema)
        builder.compile(schema)
        nodes = builder.rules.map(Node.init)
    }
}

/// Reads a schema into `CompiledSchema`'s nodes.
private struct Builder {
    typealias Rules = CompiledSchema.Rules
    var rules: [Rules] = []
    let root: JSONValue
    /// The node of each place a reference resolved to so far, by its path (a recursive reference finds its own
    /// node here; references spelled differently to one place share it).
    var referenced: [[String]: Int] = [:]
    /// Nodes added and not compiled yet: compiled one after the other, not by recursion (a long chain of
    /// references in a hostile schema takes no stack).
    var pending: [(index: Int, schema: JSONValue)] = []

    init(root: JSONValue) { self.root = root }

    /// Compiles `schema` and everything it contains or refers to; its node is the first.
    mutating func compile(_ schema: JSONValue) {
        referenced[[]] = add(schema)
        while let (index, schema) = pending.popLast() { rules[index] = keywords(of: schema) }
    }

    /// A node for `schema`, compiled later (`compile`); its index.
    private mutating func add(_ schema: JSONValue) -> Int {
        rules.append(Rules())
        pending.append((rules.count - 1, schema))
        return rules.count - 1
    }

    /// `schema`'s rules; the nodes it contains or refers to are added.
    private mutating func keywords(of schema: JSONValue) -> Rules {
        var node = Rules()
        guard case .object(let keywords) = schema else {
            node.kind = schema == .bool(false) ? .nothing : .anything
            return node
        }
        node.kind = .keywords
        if let text = keywords["$ref"]?.stringValue {
            node.reference = CompiledSchema.Reference(text: text, target: target(of: text))
        }
        node.type = keywords["type"].flatMap(CompiledSchema.TypeRule.init)
        node.allowed = keywords["enum"]?.arrayValue
        node.constant = keywords["const"]
        node.required = keywords["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let properties = keywords["properties"]?.objectValue {
            for (key, value) in properties { node.properties[key] = add(value) }
        }
        if let additional = keywords["additionalProperties"], additional != .bool(true) {
            node.additional = add(additional)
        }
        switch keywords["items"] {
        case nil: break
        case .array(let tuple)?: node.items = .tuple(tuple.map { add($0) })
        case let single?: node.items = .each(add(single))
        }
        node.allOf = keywords["allOf"]?.arrayValue?.map { add($0) } ?? []
        node.anyOf = keywords["anyOf"]?.arrayValue?.map { add($0) } ?? []
        node.oneOf = keywords["oneOf"]?.arrayValue?.map { add($0) } ?? []
        return node
    }

    /// The node of a local reference's target (`#/definitions/name`, any `#/…` JSON pointer into the root schema),
    /// added the first time its place is referred to; nil when the root schema has no such place.
    private mutating func target(of reference: String) -> Int? {
        guard let (schema, path) = Self.resolve(reference, in: root) else { return nil }
        if let known = referenced[path] { return known }
        let index = add(schema)
        referenced[path] = index
        return index
    }

    /// The value a reference points at, and the path it took (object keys, array indices written in digits).
    private static func resolve(_ reference: String, in root: JSONValue) -> (JSONValue, [String])? {
        guard reference.hasPrefix("#") else { return nil }
        var node = root
        var path: [String] = []
        for raw in reference.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch node {
            case .object(let object):
                guard let next = object[token] else { return nil }
                node = next
                path.append(token)
            case .array(let array):
                guard let index = Int(token), array.indices.contains(index) else { return nil }
                node = array[index]
                path.append(String(index))
            default:
                return nil
            }
        }
        return (node, path)
    }
}

/// One reason a value does not match its schema.
public struct ValidationProblem: Sendable, Hashable, CustomStringConvertible {
    public var path: JSONPath
    public var message: String

    public init(path: JSONPath, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
