import Foundation
import RelayCore
import RelaySDK
import RelaySpec

/// What `relay connections add` writes: a connection checked against its plugin's connection schema, then written
/// to `connections/NAME.yaml` with its secret fields sealed under the project's master key (created on first use).
public struct NewConnection: Sendable {
    public let connection: ConnectionStore.Connection
    /// `connections/NAME.yaml` of the project.
    public let path: String
    let layout: ProjectLayout

    /// Checks the name (letters, digits, - and _), that the plugin is installed, that the parameters match its
    /// connection schema (no secret in the messages), and that no file is replaced unless `replacing`. The
    /// parameters are asked for once the name and the plugin are known to be right (a caller reading them from
    /// stdin reads nothing for a command that fails anyway).
    public init(
        name: String, plugin: String, parameters readParameters: () throws -> JSONValue, catalog: PluginCatalog,
        layout: ProjectLayout, replacing: Bool = false
    ) throws {
        guard name.range(of: "^[A-Za-z0-9_-]+$", options: .regularExpression) != nil else {
            throw RelayError(.invalidValue, "connection name \"\(name)\": use letters, digits, - and _ only")
        }
        guard let entry = catalog[plugin] else {
            let native = catalog.entries.filter { $0.value.executor is PluginHost }.keys.sorted()
            throw RelayError(
                .notFound,
                "no plugin named \(plugin) is installed (native: \(native.joined(separator: ", ")); external plugins"
                    + " are registered in \(layout.plugins))")
        }
        let parameters = try readParameters()
        let schema = entry.schemas["connection"] ?? [:]
        let problems = SchemaValidator(schema: schema, options: .standard).validate(
            parameters, at: JSONPath(root: "parameters"))
        let masker = SecretMasker(schema: schema, connection: parameters)
        guard problems.isEmpty else {
            throw RelayError(
                .invalidValue,
                "connection \(name) does not match the \(plugin) plugin's connection schema: "
                    + problems.map { masker.mask($0.description) }.joined(separator: "; "))
        }
        let path = (layout.connections as NSString).appendingPathComponent("\(name).yaml")
        if FileManager.default.fileExists(atPath: path) && !replacing {
            throw RelayError(.invalidValue, "\(path) exists; pass --force to replace it")
        }
        connection = ConnectionStore.Connection(
            name: name, plugin: plugin, parameters: parameters,
            secretFields: ConnectionFile.secretFields(schema: schema))
        self.path = path
        self.layout = layout
    }

    /// The secret fields that have a value: what `write` seals.
    public var sealedFields: [String] {
        connection.secretFields.filter { connection.parameters[$0] != nil && connection.parameters[$0] != .null }
    }

    /// Seals the secrets under the master key and writes the file. With no key file yet (the project's, or the one
    /// RELAY_MASTER_KEY_FILE names), creates one first and returns it (the caller tells the user to back it up).
    @discardableResult
    public func write(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MasterKey? {
        let key: MasterKey
        var created: MasterKey?
        if case .file(let keyPath) = MasterKey.location(defaultFile: layout.masterKey, environment: environment),
            !MasterKey.fileExists(keyPath)
        {
            let generated = MasterKey.generate(source: keyPath)
            try generated.write(to: keyPath)
            (key, created) = (generated, generated)
        } else if let loaded = try MasterKey.load(defaultFile: layout.masterKey, environment: environment) {
            key = loaded
        } else {
            throw RelayError(.notFound, "no master key is set") // not reached: a missing file is created above
        }
        try ConnectionFile.write(connection, to: path, key: key)
        return created
    }
}
