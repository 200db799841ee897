import RelayCore

/// A YAML node as Relay reads plugin specs: scalars resolved with PyYAML's YAML 1.1 rules (the reference tools
/// load specs with PyYAML), mappings in document order, and the line and column of every node.
public struct YAMLNode: Sendable {
    public enum Value: Sendable {
        case scalar(Scalar)
        case sequence([YAMLNode])
        /// Entries in document order. A duplicated key keeps its last value, as PyYAML does.
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    /// A resolved scalar. YAML 1.1 timestamps are kept apart: PyYAML turns them into dates, not strings.
    public enum Scalar: Sendable, Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
        case timestamp(String)
    }

    public var value: Value
    /// 1-based line and column of the node's first character.
    public var line: Int
    public var column: Int
    /// The text as written, for scalars.
    public var text: String

    public init(value: Value, line: Int, column: Int, text: String = "") {
        self.value = value
        self.line = line
        self.column = column
        self.text = text
    }
}

extension YAMLNode {
    public var scalar: Scalar? {
        if case .scalar(let s) = value { return s }
        return nil
    }

    /// The string value of a string scalar (not of numbers or booleans written without quotes).
    public var string: String? {
        if case .scalar(.string(let s)) = value { return s }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    public var mapping: [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let entries) = value { return entries }
        return nil
    }

    public var isNull: Bool { scalar == .null }

    /// The key as Python's `json.dumps` writes a dictionary key (`True` → `"true"`, `1` → `"1"`).
    public var keyString: String {
        switch value {
        case .scalar(let s):
            switch s {
            case .null: return "null"
            case .bool(let b): return b ? "true" : "false"
            case .int(let i): return String(i)
            case .double(let d): return JSONWriter.pythonRepr(d)
            case .string(let s), .timestamp(let s): return s
            }
        default: return text
        }
    }

    /// The value for a key of a mapping (last occurrence wins).
    public subscript(key: String) -> YAMLNode? {
        guard let entries = mapping else { return nil }
        return entries.last(where: { $0.key.keyString == key })?.value
    }

    /// Entries with string keys, duplicates collapsed to the last value but kept at the first key's position (the
    /// order a Python dict keeps when a key is assigned twice).
    public var orderedEntries: [(key: String, node: YAMLNode, keyNode: YAMLNode)] {
        guard let entries = mapping else { return [] }
        var order: [String] = []
        var latest: [String: (YAMLNode, YAMLNode)] = [:]
        for entry in entries {
            let key = entry.key.keyString
            if latest[key] == nil { order.append(key) }
            latest[key] = (entry.value, entry.key)
        }
        return order.map { ($0, latest[$0]!.0, latest[$0]!.1) }
    }

    /// The node as a JSON value, as `json.dumps` would print what PyYAML loaded. Timestamps become their text.
    public var json: JSONValue {
        switch value {
        case .scalar(let s):
            switch s {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s), .timestamp(let s): return .string(s)
            }
        case .sequence(let items): return .array(items.map(\.json))
        case .mapping:
            var object: JSONObject = [:]
            for entry in orderedEntries { object[entry.key] = entry.node.json }
            return .object(object)
        }
    }

    /// A short description of the node's kind for error messages: `a string`, `a list`, `a mapping`, ...
    public var kindDescription: String {
        switch value {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar(let s):
            switch s {
            case .null: return "nothing (null)"
            case .bool(let b): return "the boolean \(b)"
            case .int(let i): return "the integer \(i)"
            case .double(let d): return "the number \(JSONWriter.pythonRepr(d))"
            case .string(let s): return "the string \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
            case .timestamp(let s): return "the date \(s)"
            }
        }
    }
}
