/// A field's type as written in a spec: a primitive (`string`, `int`, ...), a credential type, a custom type of
/// the spec's `types:`, or an array of any of these written `[]T` (nesting allowed: `[][]string`).
public indirect enum TypeReference: Sendable, Hashable, CustomStringConvertible {
    case primitive(PrimitiveType)
    case credential(CredentialType)
    case custom(String)
    case array(TypeReference)

    public init(_ text: String) {
        let trimmed = text.trimmingSpaces
        if trimmed.hasPrefix("[]") {
            self = .array(TypeReference(String(trimmed.dropFirst(2))))
        } else if let primitive = PrimitiveType(rawValue: trimmed) {
            self = .primitive(primitive)
        } else if let credential = CredentialType(rawValue: trimmed) {
            self = .credential(credential)
        } else {
            self = .custom(trimmed)
        }
    }

    public var description: String {
        switch self {
        case .primitive(let p): p.rawValue
        case .credential(let c): c.rawValue
        case .custom(let name): name
        case .array(let element): "[]" + element.description
        }
    }

    /// The innermost element type of nested arrays (`[][]ip` → `ip`).
    public var elementType: TypeReference {
        if case .array(let element) = self { return element.elementType }
        return self
    }

    /// The custom type name this reference uses, if any.
    public var customTypeName: String? {
        if case .custom(let name) = elementType { return name }
        return nil
    }
}

/// The built-in scalar and structural types of spec v2, with the aliases real specs use.
public enum PrimitiveType: String, Sendable, CaseIterable {
    case string, integer, int, number, float, boolean, bool, date, bytes, object, password, file, python, array
}

/// The credential types, whose schemas the reference generator writes from fixed definitions.
public enum CredentialType: String, Sendable, CaseIterable {
    case usernamePassword = "credential_username_password"
    case secretKey = "credential_secret_key"
    case asymmetricKey = "credential_asymmetric_key"
    case token = "credential_token"
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
