import RelayCore

/// Replaces the values of a connection's secrets wherever they appear in an output with `********`, as the
/// InsightConnect runtime masks outputs. Secrets are the string values of the connection's password-format fields
/// (found through its schema: `password` and every `credential_*` secret) and, as the runtime has it, any string
/// under a key named `secretKey`, `password`, `key` or `token`. Relay replaces exact occurrences of secrets of 4
/// characters or more, in every mode (the runtime masks only over HTTP, with a fuzzy prefix match that can mangle
/// unrelated text).
public struct SecretMasker: Sendable {
    public let secrets: [String]

    public init(schema: JSONValue, connection: JSONValue) {
        self.init(schema: schema, value: connection, byKeyName: true)
    }

    /// The secrets of `value` by its schema: the strings of its password-format fields, and with `byKeyName` any
    /// string under a key the runtime treats as secret (a connection's way; an action's input has a `key` that is
    /// not a secret as often as one that is).
    public init(schema: JSONValue, value: JSONValue, byKeyName: Bool) {
        var found: [String] = []
        SecretMasker.collect(value, schema: schema, root: schema, byKeyName: byKeyName, into: &found)
        // Longest first, so a secret that contains another is masked whole.
        secrets = Array(Set(found.filter { $0.count >= 4 })).sorted { $0.count > $1.count }
    }

    public init(secrets: [String]) { self.secrets = secrets.sorted { $0.count > $1.count } }

    /// Keys whose string values the runtime treats as secrets wherever they are in the connection.
    static let secretKeys: Set<String> = ["secretKey", "password", "key", "token"]

    public func mask(_ value: JSONValue) -> JSONValue {
        guard !secrets.isEmpty else { return value }
        switch value {
        case .string(let text):
            var masked = text
            for secret in secrets where masked.contains(secret) {
                masked = masked.replacingOccurrences(of: secret, with: "********")
            }
            return .string(masked)
        case .array(let items): return .array(items.map(mask))
        case .object(let object): return .object(object.mapValues(mask))
        default: return value
        }
    }

    private static func collect(
        _ value: JSONValue, schema: JSONValue, root: JSONValue, byKeyName: Bool, into found: inout [String]
    ) {
        var schema = schema
        if let reference = schema["$ref"]?.stringValue, reference.hasPrefix("#/definitions/") {
            schema = root["definitions"]?[String(reference.dropFirst("#/definitions/".count))] ?? [:]
        }
        if schema["format"] == "password", case .string(let secret) = value {
            found.append(secret)
            return
        }
        switch value {
        case .object(let object):
            for (key, item) in object {
                if byKeyName, SecretMasker.secretKeys.contains(key), case .string(let secret) = item {
                    found.append(secret)
                    continue
                }
                collect(item, schema: schema["properties"]?[key] ?? [:], root: root, byKeyName: byKeyName, into: &found)
            }
        case .array(let items):
            for item in items {
                collect(item, schema: schema["items"] ?? [:], root: root, byKeyName: byKeyName, into: &found)
            }
        default:
            break
        }
    }
}

extension SecretMasker {
    /// Masks a string (a log, an error message).
    public func mask(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        return mask(JSONValue.string(text)).stringValue ?? text
    }
}

extension StepEvent {
    /// The event with every connection secret masked wherever it appears: output, state, log, error, exception.
    public func masked(by masker: SecretMasker) -> StepEvent {
        guard !masker.secrets.isEmpty else { return self }
        var event = self
        event.output = output.map(masker.mask)
        event.state = state.map(masker.mask)
        event.log = masker.mask(log)
        event.error = error.map(masker.mask)
        if var exception {
            exception.cause = masker.mask(exception.cause)
            exception.assistance = masker.mask(exception.assistance)
            exception.data = masker.mask(exception.data)
            event.exception = exception
        }
        return event
    }
}
