import Foundation
import RelayCore
import RelaySDK
import RelaySpec
import Synchronization

/// The project's named connections (`connections/<name>.yaml`: `plugin:` and `parameters:`, secrets sealed with
/// the master key). Jobs on the bus carry only a connection's name; the worker resolves it here when it runs the
/// job. A file changed on disk (e.g. by `relay connections add --force`) is read again at its next use, so the
/// plugin host, which caches connections by their parameters, connects anew.
public final class ConnectionStore: Sendable {
    public struct Connection: Sendable, Equatable {
        public var name: String
        public var plugin: String
        /// With secrets opened: never write these anywhere.
        public var parameters: JSONValue
        /// The top-level fields the plugin's connection schema makes secret.
        public var secretFields: [String]
        public var file: String?
        var modified: Date?

        public init(
            name: String, plugin: String, parameters: JSONValue, secretFields: [String] = [], file: String? = nil
        ) {
            self.name = name
            self.plugin = plugin
            self.parameters = parameters
            self.secretFields = secretFields
            self.file = file
        }
    }

    private let directory: String?
    private let catalog: PluginCatalog?
    private let key: MasterKey?
    private let loaded: Mutex<[String: Connection]>

    /// Connections held in memory (tests, benchmarks).
    public init(connections: [Connection] = []) {
        directory = nil
        catalog = nil
        key = nil
        loaded = Mutex(Dictionary(uniqueKeysWithValues: connections.map { ($0.name, $0) }))
    }

    /// Loads every connection of `directory`, opening and validating each against its plugin's connection
    /// schema; every problem is reported (one per line), naming the file and the field.
    public init(directory: String, catalog: PluginCatalog, key: MasterKey?) throws {
        self.directory = directory
        self.catalog = catalog
        self.key = key
        var connections: [String: Connection] = [:]
        var problems: [String] = []
        for file in ConnectionFile.files(in: directory) {
            do {
                let connection = try ConnectionFile.read(path: file, catalog: catalog, key: key)
                if let other = connections[connection.name] {
                    problems.append("\(file): a connection named \(connection.name) is already in \(other.file ?? "")")
                }
                connections[connection.name] = connection
            } catch let error as RelayError {
                problems.append(error.message)
            }
        }
        guard problems.isEmpty else { throw RelayError(.invalidSpec, problems.joined(separator: "\n")) }
        loaded = Mutex(connections)
    }

    public subscript(name: String) -> Connection? { loaded.withLock { $0[name] } }

    public var all: [Connection] { loaded.withLock { $0.values.sorted { $0.name < $1.name } } }

    /// The opened parameters of connection `name` ([:] for none), read again if its file changed.
    public func parameters(_ name: String?) throws -> JSONValue {
        guard let name else { return [:] }
        return try current(name).parameters
    }

    private func current(_ name: String) throws -> Connection {
        guard let connection = loaded.withLock({ $0[name] }) else {
            throw RelayError(
                .notFound,
                "no connection named \"\(name)\" (connections are files in connections/; see relay connections list)")
        }
        guard let file = connection.file, let catalog else { return connection }
        let modified = ConnectionFile.modified(file)
        guard modified != connection.modified else { return connection }
        guard modified != nil else { throw RelayError(.notFound, "connection \"\(name)\": \(file) was removed") }
        let fresh = try ConnectionFile.read(path: file, catalog: catalog, key: key)
        loaded.withLock { $0[name] = fresh }
        return fresh
    }
}
