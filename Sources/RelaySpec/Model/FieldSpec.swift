import RelayCore

/// One field of a connection, an input, an output, a task's state or a custom type.
public struct FieldSpec: Sendable {
    public var name: String
    /// The type as written (`[]string`, `credential_secret_key`, `my_type`); `nil` when the spec omits it.
    public var typeName: String?
    public var title: String?
    public var description: String?
    /// `required` when written as a boolean; see `requiredNode` for what was written.
    public var required: Bool?
    public var defaultValue: JSONValue?
    public var enumValues: [JSONValue]?
    public var example: JSONValue?
    public var order: Int?
    public var placeholder: String?
    public var tooltip: String?
    /// The field's mapping as written, with every attribute (known or not) and its position.
    public var node: YAMLNode

    public var type: TypeReference? { typeName.map(TypeReference.init) }
    public var line: Int { node.line }

    public init(name: String, typeName: String?, node: YAMLNode) {
        self.name = name
        self.typeName = typeName
        self.node = node
    }
}

/// A custom type of the spec's `types:` section: a named object with fields.
public struct CustomTypeSpec: Sendable {
    public var name: String
    public var fields: [FieldSpec]
    public var node: YAMLNode
}
