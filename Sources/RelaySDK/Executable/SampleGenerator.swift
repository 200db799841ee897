import RelayCore

/// A sample value for a schema, as the runtime's `sample` builds one: each property's default, else the first
/// enum value, else an empty value of its type (`""`, `0`, `false`, `[]`, `{}`), following `$ref`s.
public enum SampleGenerator {
    public static func sample(_ schema: JSONValue) -> JSONValue {
        guard let properties = schema["properties"]?.objectValue, !properties.isEmpty else { return [:] }
        return object(schema, root: schema, depth: 0)
    }

    private static func object(_ schema: JSONValue, root: JSONValue, depth: Int) -> JSONValue {
        var result: JSONObject = [:]
        for (key, property) in schema["properties"]?.objectValue ?? [:] {
            if let value = value(property, root: root, depth: depth + 1) { result[key] = value }
        }
        return .object(result)
    }

    private static func value(_ property: JSONValue, root: JSONValue, depth: Int) -> JSONValue? {
        if let value = property["default"] { return value }
        if let reference = property["$ref"]?.stringValue {
            guard depth < 16, reference.hasPrefix("#/definitions/"),
                let definition = root["definitions"]?[String(reference.dropFirst("#/definitions/".count))]
            else { return [:] }
            return value(definition, root: root, depth: depth + 1)
        }
        guard let type = property["type"]?.stringValue else { return nil }
        if let first = property["enum"]?.arrayValue?.first { return first }
        switch type {
        case "array": return []
        case "object": return object(property, root: root, depth: depth)
        case "string": return ""
        case "boolean": return false
        case "integer", "number": return 0
        default: return nil
        }
    }
}
