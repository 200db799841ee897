import RelayCore

/// Generates the JSON schemas of a spec's connection, inputs, outputs and task state exactly as InsightConnect's
/// reference generator (`insight-plugin` 1.11.0, `SchemaUtil.generate_json_schema`) does, quirks included, so
/// that Relay validates values exactly as the runtime does. See docs/json-schemas.md for the rules.
public struct SchemaGenerator: Sendable {
    public let spec: PluginSpec

    public init(spec: PluginSpec) { self.spec = spec }

    /// The whole document in the reference layout:
    /// `{"connection": S, "actions": {name: {"input", "output"}}, "triggers": {…}, "tasks": {name: {"input",
    /// "output", "state"}}}`, with `actions`, `triggers` and `tasks` absent where the spec has none.
    public func document() throws(RelayError) -> JSONValue {
        var document: JSONObject = ["connection": try connectionSchema()]
        for (kind, components) in [
            (ComponentSpec.Kind.action, spec.actions), (.trigger, spec.triggers), (.task, spec.tasks),
        ]
        where !components.isEmpty {
            var section: JSONObject = [:]
            for component in components {
                var schemas: JSONObject = [
                    "input": try inputSchema(component),
                    "output": try outputSchema(component),
                ]
                if kind == .task { schemas["state"] = try stateSchema(component) }
                section[component.name] = .object(schemas)
            }
            document[kind.section] = .object(section)
        }
        return .object(document)
    }

    public func connectionSchema() throws(RelayError) -> JSONValue {
        try objectSchema(spec.connection, section: spec.root["connection"], path: "connection")
    }

    public func inputSchema(_ component: ComponentSpec) throws(RelayError) -> JSONValue {
        try objectSchema(
            component.input, section: component.node["input"], path: "\(component.kind.section).\(component.name).input"
        )
    }

    /// A task's output is described by the reference as an array (see `taskOutputSchema`); actions' and
    /// triggers' outputs are object schemas.
    public func outputSchema(_ component: ComponentSpec) throws(RelayError) -> JSONValue {
        let path = "\(component.kind.section).\(component.name).output"
        if component.kind == .task {
            return try taskOutputSchema(component.output, section: component.node["output"], path: path)
        }
        return try objectSchema(component.output, section: component.node["output"], path: path)
    }

    public func stateSchema(_ component: ComponentSpec) throws(RelayError) -> JSONValue {
        try objectSchema(
            component.state, section: component.node["state"], path: "\(component.kind.section).\(component.name).state"
        )
    }

    // MARK: - Sections

    /// `{"type": "object", "title": "Variables", "properties", "required" (when any), "definitions"}`, or `{}`
    /// for a missing or empty section.
    private func objectSchema(_ fields: [FieldSpec], section: YAMLNode?, path: String) throws(RelayError) -> JSONValue {
        guard !fields.isEmpty else { return .object([:]) }
        var definitions = Definitions()
        let (properties, required) = try build(fields, path: path, definitions: &definitions)
        var schema: JSONObject = [
            "type": "object", "title": "Variables", "properties": .object(properties),
            "definitions": .object(definitions.values),
        ]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        return .object(schema)
    }

    /// The reference reshapes a task's output into `{"type": "array", "items": {}, "title", "description",
    /// "required", "definitions"}`, taking title and description from the alphabetically first output field (an
    /// empty object when that field has none).
    private func taskOutputSchema(_ fields: [FieldSpec], section: YAMLNode?, path: String) throws(RelayError)
        -> JSONValue
    {
        guard !fields.isEmpty else { return .object([:]) }
        var definitions = Definitions()
        let (properties, required) = try build(fields, path: path, definitions: &definitions)
        let firstKey = properties.keys.sorted(by: JSONWriter.codePointOrder).first!
        let first = properties[firstKey]!
        var schema: JSONObject = [
            "type": "array", "items": .object([:]),
            "title": first["title"] ?? .object([:]),
            "description": first["description"] ?? .object([:]),
            "definitions": .object(definitions.values),
        ]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        return .object(schema)
    }

    // MARK: - Fields

    private struct Definitions {
        var values: JSONObject = [:]
    }

    /// Properties (in the reference's form) and the sorted names of required fields.
    private func build(
        _ fields: [FieldSpec], path: String, definitions: inout Definitions
    ) throws(RelayError) -> (JSONObject, [String]) {
        var properties: JSONObject = [:]
        var required: [String] = []
        for (offset, field) in fields.enumerated() {
            let fieldPath = "\(path).\(field.name)"
            guard let typeNode = field.node["type"], let typeName = typeNode.string ?? scalarText(typeNode) else {
                throw RelayError(
                    .invalidSpec,
                    "\(spec.file):\(field.line):\(field.node.column): \(fieldPath): no type; give the "
                        + "field a type such as string"
                )
            }
            var property = try typeForm(typeName, node: typeNode, path: fieldPath, definitions: &definitions)
            for key in ["title", "description", "default", "placeholder", "tooltip", "enum"] {
                if let value = field.node[key] { property[key] = value.json }
            }
            property["order"] = .int(offset + 1)
            if let flag = field.node["required"], isTruthy(flag) { required.append(field.name) }
            properties[field.name] = .object(property)
        }
        return (properties, required.sorted(by: JSONWriter.codePointOrder))
    }

    /// The keys a type contributes to a property: inline for primitives, a `$ref` plus a definition for built-in
    /// object types and custom types, `type: array` with `items` for `[]T`.
    private func typeForm(
        _ typeName: String, node: YAMLNode, path: String, definitions: inout Definitions
    ) throws(RelayError) -> JSONObject {
        if let inline = SchemaGenerator.primitiveForms[typeName] { return inline }
        if let reference = try reference(to: typeName, path: path, definitions: &definitions) {
            return ["$ref": .string(reference)]
        }
        if typeName.count >= 3, typeName.hasPrefix("[]") {
            let element = String(typeName.dropFirst(2))
            if let inline = SchemaGenerator.primitiveForms[element] {
                return ["type": "array", "items": .object(inline)]
            }
            if let reference = try reference(to: element, path: path, definitions: &definitions) {
                return ["type": "array", "items": ["$ref": .string(reference)]]
            }
            if element == "array" || element == " tag" || element.hasPrefix("[]") {
                // Nested arrays are not supported by InsightConnect; the reference writes an untyped array.
                return ["type": "array"]
            }
            throw RelayError(
                .invalidSpec,
                "\(spec.file):\(node.line):\(node.column): \(path): invalid array type '\(typeName)': "
                    + "'\(element)' is neither a spec type nor defined under types"
            )
        }
        // An unknown type name: the reference writes the property without any type.
        return [:]
    }

    /// `#/definitions/NAME` for built-in object types and custom types, adding the definition (and everything it
    /// reaches) the first time; nil for anything else.
    private func reference(to name: String, path: String, definitions: inout Definitions) throws(RelayError) -> String?
    {
        if let builtIn = SchemaGenerator.builtInDefinitions[name] {
            if definitions.values[name] == nil { definitions.values[name] = builtIn }
            return "#/definitions/\(name)"
        }
        guard let custom = spec.customType(named: name) else { return nil }
        if definitions.values[name] == nil {
            definitions.values[name] = .object([:]) // placeholder: stops recursion on self-reference
            let (properties, required) = try build(custom.fields, path: "types.\(name)", definitions: &definitions)
            var definition: JSONObject = ["type": "object", "title": .string(name), "properties": .object(properties)]
            if !required.isEmpty { definition["required"] = .array(required.map(JSONValue.string)) }
            definitions.values[name] = .object(definition)
        }
        return "#/definitions/\(name)"
    }

    /// Python truthiness of a YAML value, which the reference uses for `required`.
    private func isTruthy(_ node: YAMLNode) -> Bool {
        switch node.value {
        case .scalar(let scalar):
            switch scalar {
            case .null: return false
            case .bool(let b): return b
            case .int(let i): return i != 0
            case .double(let d): return d != 0
            case .string(let s): return !s.isEmpty
            case .timestamp: return true
            }
        case .sequence(let items): return !items.isEmpty
        case .mapping(let entries): return !entries.isEmpty
        }
    }

    private func scalarText(_ node: YAMLNode) -> String? {
        node.scalar == nil || node.isNull ? nil : node.text
    }
}
