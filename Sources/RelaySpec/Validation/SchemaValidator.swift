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

    public init(schema: JSONValue, options: Options = .standard) {
        self.schema = schema
        self.options = options
    }

    /// Every problem found, in document order; empty when the value is valid.
    public func validate(_ value: JSONValue, at root: JSONPath = JSONPath(root: "input")) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        var path = root
        check(value, against: schema, path: &path, depth: 0, into: &problems)
        if options.rejectEmptyRequired, case .object(let object) = value,
            let required = schema["required"]?.arrayValue
        {
            for case .string(let key) in required {
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
        _ value: JSONValue, against schema: JSONValue, path: inout JSONPath, depth: Int,
        into problems: inout [ValidationProblem]
    ) {
        guard problems.count < options.maximumProblems else { return }
        guard case .object(let keywords) = schema else {
            if schema == .bool(false) {
                problems.append(ValidationProblem(path: path, message: "no value is allowed here"))
            }
            return
        }
        if let reference = keywords["$ref"]?.stringValue {
            guard depth < 64 else {
                problems.append(
                    ValidationProblem(path: path, message: "schema reference \(reference) nests too deeply"))
                return
            }
            guard let target = resolve(reference) else {
                problems.append(
                    ValidationProblem(
                        path: path, message: "the schema refers to \(reference), which it does not define"))
                return
            }
            check(value, against: target, path: &path, depth: depth + 1, into: &problems)
        }
        if let type = keywords["type"], !matches(value, type: type) {
            problems.append(
                ValidationProblem(path: path, message: "expected \(describe(type)), found \(value.typeName)"))
            return
        }
        if let allowed = keywords["enum"]?.arrayValue, !allowed.contains(where: { equal($0, value) }) {
            let list = allowed.map { JSONWriter.compact.string($0) }.joined(separator: ", ")
            problems.append(
                ValidationProblem(
                    path: path, message: "expected one of [\(list)], found \(JSONWriter.compact.string(value))"))
        }
        if let constant = keywords["const"], !equal(constant, value) {
            problems.append(
                ValidationProblem(
                    path: path,
                    message:
                        "expected \(JSONWriter.compact.string(constant)), found \(JSONWriter.compact.string(value))"))
        }
        if case .object(let object) = value {
            if let required = keywords["required"]?.arrayValue {
                for case .string(let key) in required where object[key] == nil {
                    problems.append(
                        ValidationProblem(path: path.appending(key), message: "required property is missing"))
                }
            }
            if let properties = keywords["properties"]?.objectValue {
                for key in Self.inCodePointOrder(object.keys) {
                    if let propertySchema = properties[key] {
                        check(
                            object[key]!, against: propertySchema, at: .key(key), path: &path, depth: depth,
                            into: &problems)
                    }
                }
            }
            if let additional = keywords["additionalProperties"], additional != .bool(true) {
                let known = Set(keywords["properties"]?.objectValue?.keys.map { $0 } ?? [])
                for key in Self.inCodePointOrder(object.keys) where !known.contains(key) {
                    check(object[key]!, against: additional, at: .key(key), path: &path, depth: depth, into: &problems)
                }
            }
        }
        if case .array(let items) = value, let itemSchema = keywords["items"] {
            if case .array(let tuple) = itemSchema {
                for (index, item) in items.enumerated() where index < tuple.count {
                    check(item, against: tuple[index], at: .index(index), path: &path, depth: depth, into: &problems)
                }
            } else {
                for (index, item) in items.enumerated() {
                    check(item, against: itemSchema, at: .index(index), path: &path, depth: depth, into: &problems)
                }
            }
        }
        if let all = keywords["allOf"]?.arrayValue {
            for sub in all { check(value, against: sub, path: &path, depth: depth + 1, into: &problems) }
        }
        if let any = keywords["anyOf"]?.arrayValue, !any.isEmpty {
            let passing = any.filter { errors(value, $0, path, depth).isEmpty }
            if passing.isEmpty {
                problems.append(
                    ValidationProblem(path: path, message: "matches none of the \(any.count) allowed shapes"))
            }
        }
        if let one = keywords["oneOf"]?.arrayValue, !one.isEmpty {
            let passing = one.filter { errors(value, $0, path, depth).isEmpty }.count
            if passing != 1 {
                problems.append(
                    ValidationProblem(
                        path: path,
                        message: passing == 0
                            ? "matches none of the \(one.count) allowed shapes"
                            : "matches \(passing) of the allowed shapes, expected exactly one"))
            }
        }
    }

    /// `check` of a member or an item of the value at `path`: `path` extended by `component` (in place) while it is
    /// checked.
    private func check(
        _ value: JSONValue, against schema: JSONValue, at component: JSONPath.Component, path: inout JSONPath,
        depth: Int, into problems: inout [ValidationProblem]
    ) {
        path.components.append(component)
        check(value, against: schema, path: &path, depth: depth, into: &problems)
        path.components.removeLast()
    }

    private func errors(_ value: JSONValue, _ schema: JSONValue, _ path: JSONPath, _ depth: Int) -> [ValidationProblem]
    {
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

    /// Resolves a local reference (`#/definitions/name`, any `#/…` JSON pointer) in the root schema.
    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#") else { return nil }
        var node = schema
        for raw in reference.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch node {
            case .object(let object):
                guard let next = object[token] else { return nil }
                node = next
            case .array(let array):
                guard let index = Int(token), array.indices.contains(index) else { return nil }
                node = array[index]
            default:
                return nil
            }
        }
        return node
    }

    private func matches(_ value: JSONValue, type: JSONValue) -> Bool {
        switch type {
        case .string(let name): return matches(value, typeName: name)
        case .array(let names): return names.contains { $0.stringValue.map { matches(value, typeName: $0) } ?? false }
        default: return true
        }
    }

    private func matches(_ value: JSONValue, typeName: String) -> Bool {
        switch (typeName, value) {
        case ("string", .string), ("boolean", .bool), ("null", .null), ("array", .array), ("object", .object): true
        case ("integer", .int), ("integer", .bigInt): true
        case ("integer", .double(let d)): d.isFinite && d.rounded() == d
        case ("number", .int), ("number", .bigInt), ("number", .double): true
        case ("string", _), ("boolean", _), ("null", _), ("array", _), ("object", _), ("integer", _), ("number", _):
            false
        default: true // an unknown type name constrains nothing
        }
    }

    private func describe(_ type: JSONValue) -> String {
        switch type {
        case .string(let name): return name
        case .array(let names): return names.compactMap(\.stringValue).joined(separator: " or ")
        default: return JSONWriter.compact.string(type)
        }
    }

    /// JSON equality as `jsonschema` sees it: `1 == 1.0`, but `true != 1`.
    private func equal(_ a: JSONValue, _ b: JSONValue) -> Bool { a.numericallyEquals(b) }
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
