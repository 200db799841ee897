import Foundation
import RelayCore
import RelaySpec

/// Named connections of the project (`connections/<name>.yaml`: `plugin:` and `parameters:`), resolved by the
/// worker when it runs a job; jobs on the bus carry only the name.
public struct ConnectionStore: Sendable {
    public struct Connection: Sendable, Equatable {
        public var name: String
        public var plugin: String
        public var parameters: JSONValue
    }

    public var connections: [String: Connection]

    public init(connections: [String: Connection] = [:]) { self.connections = connections }

    public static func load(directory: String) throws -> ConnectionStore {
        var connections: [String: Connection] = [:]
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            let node = try YAMLDocument.parse(String(contentsOfFile: path, encoding: .utf8), file: path)
            let name = node["name"]?.string ?? ((file as NSString).deletingPathExtension)
            guard let plugin = node["plugin"]?.string else { throw RelayError(.invalidSpec, "\(path):\(node.line): plugin: expected the plugin this connection is for") }
            connections[name] = Connection(name: name, plugin: plugin, parameters: node["parameters"]?.json ?? [:])
        }
        return ConnectionStore(connections: connections)
    }

    public func parameters(_ name: String?) throws -> JSONValue {
        guard let name else { return [:] }
        guard let connection = connections[name] else {
            throw RelayError(.notFound, "no connection named \"\(name)\" (connections are files in connections/)")
        }
        return connection.parameters
    }
}
