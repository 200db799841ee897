import Foundation
import RelayCore
import RelaySDK
import RelaySpec

/// Reading and writing `connections/<name>.yaml`.
public enum ConnectionFile {
    static func files(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// The top-level connection fields that hold secrets: type `password`, a `credential_*` type, or any type
    /// with a password inside (the schema says `"format": "password"` somewhere within).
    public static func secretFields(schema: JSONValue) -> [String] {
        (schema["properties"]?.objectValue ?? [:]).compactMap { name, property in
            isSecret(property, root: schema, depth: 0) ? name : nil
        }.sorted()
    }

    private static func isSecret(_ schema: JSONValue, root: JSONValue, depth: Int) -> Bool {
        guard depth < 8 else { return false }
        if let reference = schema["$ref"]?.stringValue, reference.hasPrefix("#/definitions/") {
            let name = String(reference.dropFirst("#/definitions/".count))
            if name.hasPrefix("credential_") { return true }
            return isSecret(root["definitions"]?[name] ?? [:], root: root, depth: depth + 1)
        }
        if schema["format"] == "password" { return true }
        if let items = schema["items"], isSecret(items, root: root, depth: depth + 1) { return true }
        return (schema["properties"]?.objectValue ?? [:]).values.contains { isSecret($0, root: root, depth: depth + 1) }
    }

    /// Reads a connection file: opens sealed values, refuses secrets stored in clear, validates the result
    /// against the plugin's connection schema. No error message contains a secret.
    public static func read(path: String, catalog: PluginCatalog, key: MasterKey?) throws -> ConnectionStore.Connection
    {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RelayError(.io, "\(path): cannot read: \(error.localizedDescription)")
        }
        let node = try YAMLDocument.parse(text, file: path)
        let name = node["name"]?.string ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        guard let plugin = node["plugin"]?.string else {
            throw RelayError(.invalidSpec, "\(path):\(node.line): plugin: expected the plugin this connection is for")
        }
        guard let entry = catalog[plugin] else {
            throw RelayError(
                .notFound,
                "\(path):\(node["plugin"]?.line ?? node.line): plugin: no plugin named \(plugin) is installed")
        }
        let schema = entry.schemas["connection"] ?? [:]
        let secrets = secretFields(schema: schema)
        var parameters = node["parameters"]?.json ?? [:]
        guard var object = parameters.objectValue else {
            throw RelayError(.invalidSpec, "\(path): parameters: expected a mapping of the connection's fields")
        }
        for (field, value) in object {
            let place = "\(path):\(node["parameters"]?[field]?.line ?? node.line): parameters.\(field)"
            if SealedSecret.isSealed(value) {
                object[field] = try SealedSecret.open(value.stringValue!, field: field, key: key, place: place)
            } else if secrets.contains(field), value != .null {
                throw RelayError(
                    .invalidSpec,
                    "\(place): a secret stored in clear; store it encrypted with relay connections add "
                        + "\(name) --plugin \(plugin) --force (reads the parameters as JSON)"
                )
            }
        }
        parameters = .object(object)
        let problems = SchemaValidator(schema: schema, options: .standard).validate(
            parameters, at: JSONPath(root: "parameters"))
        if !problems.isEmpty {
            let masker = SecretMasker(schema: schema, connection: parameters)
            throw RelayError(
                .invalidValue,
                "\(path): connection \(name) does not match the \(plugin) plugin's connection schema: "
                    + problems.map { masker.mask($0.description) }.joined(separator: "; "))
        }
        var connection = ConnectionStore.Connection(
            name: name, plugin: plugin, parameters: parameters, secretFields: secrets, file: path)
        connection.modified = modified(path)
        return connection
    }

    /// Writes a connection: secret fields sealed with `key`, everything else as JSON (which YAML reads as is).
    public static func write(_ connection: ConnectionStore.Connection, to path: String, key: MasterKey) throws {
        var lines = [
            "# Connection \"\(connection.name)\" of the \(connection.plugin) plugin, written by relay connections.",
            "# Secret fields "
                + "(\(connection.secretFields.isEmpty ? "none" : connection.secretFields.joined(separator: ", "))) "
                + "are sealed with AES-256-GCM under master key \(key.id).",
            "plugin: \(connection.plugin)",
            "parameters:",
        ]
        for (field, value) in connection.parameters.objectValue ?? [:] {
            let stored: JSONValue =
                connection.secretFields.contains(field) && value != .null
                ? .string(try SealedSecret.seal(value, field: field, key: key)) : value
            lines.append("  \(JSONWriter.compact.string(.string(field))): \(JSONWriter.compact.string(stored))")
        }
        if connection.parameters.objectValue?.isEmpty ?? true { lines[lines.count - 1] = "parameters: {}" }
        try PrivateFile.write(lines.joined(separator: "\n") + "\n", to: path)
    }
}
