import Foundation
import RelayCore
import RelaySpec

/// One topic as declared in `topics/*.yaml`: what `relay topics apply` makes exist on a broker.
public struct TopicDeclaration: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Broker-side topic configuration (`retention.ms`, `cleanup.policy`, ...), passed through unchanged.
    public var config: [String: String]

    public init(name: String, partitions: Int = 1, replicationFactor: Int = 1, config: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.config = config
    }
}

extension TopicDeclaration {
    /// Reads every declaration of a `topics/*.yaml` file: either one mapping or a list of them under `topics:`.
    /// The YAML is read within `YAMLLimits`, like every other YAML file.
    public static func load(yaml: String, file: String) throws -> [TopicDeclaration] {
        let node = try YAMLDocument.parse(yaml, file: file)
        if node.isNull { return [] }
        let list = node["topics"]
        let entries: [YAMLNode]
        if let list {
            guard let sequence = list.sequence else {
                throw RelayError(
                    .invalidSpec, "\(file):\(list.line): topics: expected a list, found \(list.kindDescription)")
            }
            entries = sequence
        } else {
            entries = [node]
        }
        return try entries.enumerated().map { offset, entry in
            try declaration(from: entry, file: file, path: list == nil ? "" : "topics[\(offset)].")
        }
    }

    private static func declaration(from node: YAMLNode, file: String, path: String) throws -> TopicDeclaration {
        let line = node.line
        guard node.mapping != nil else {
            throw RelayError(.invalidSpec, "\(file):\(line): \(path.isEmpty ? "topic" : path): expected a mapping")
        }
        guard let name = node["name"]?.string, !name.isEmpty else {
            throw RelayError(.invalidSpec, "\(file):\(line): \(path)name: expected a topic name")
        }
        func positive(_ key: String, default value: Int) throws -> Int {
            guard let field = node[key] else { return value }
            guard case .scalar(.int(let int)) = field.value, int > 0 else {
                let found = field.scalar == nil ? field.kindDescription : field.text
                throw RelayError(
                    .invalidSpec, "\(file):\(field.line): \(path)\(key): expected a positive integer, found \(found)")
            }
            return int
        }
        var config: [String: String] = [:]
        if let configNode = node["config"] {
            guard configNode.mapping != nil else {
                throw RelayError(.invalidSpec, "\(file):\(configNode.line): \(path)config: expected a mapping")
            }
            for entry in configNode.orderedEntries {
                guard entry.node.scalar != nil else {
                    throw RelayError(
                        .invalidSpec,
                        "\(file):\(entry.keyNode.line): \(path)config: expected string keys and scalar values")
                }
                // Broker configuration is text: the value as written (`1000`, not a number).
                config[entry.key] = entry.node.text
            }
        }
        return TopicDeclaration(
            name: name,
            partitions: try positive("partitions", default: 1),
            replicationFactor: try positive("replication_factor", default: 1),
            config: config)
    }
}

extension TopicDeclaration {
    /// Every declaration in the `*.yaml` files of a directory (sorted by file name). A topic declared twice is
    /// an error naming both files.
    public static func loadDirectory(_ path: String) throws -> [TopicDeclaration] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw RelayError(.notFound, "\(path): cannot read the topics directory: \(error.localizedDescription)")
        }
        var declarations: [TopicDeclaration] = []
        var origin: [String: String] = [:]
        for file in files {
            let filePath = (path as NSString).appendingPathComponent(file)
            let text: String
            do {
                text = try String(contentsOfFile: filePath, encoding: .utf8)
            } catch {
                throw RelayError(.io, "\(filePath): cannot read: \(error.localizedDescription)")
            }
            for declaration in try load(yaml: text, file: filePath) {
                if let first = origin[declaration.name] {
                    throw RelayError(
                        .invalidSpec, "\(filePath): topic \(declaration.name) is already declared in \(first)")
                }
                origin[declaration.name] = filePath
                declarations.append(declaration)
            }
        }
        return declarations
    }
}

extension TopicDeclaration {
    /// The same declaration for the topic named `prefix` + name (an installation's topic prefix on the broker).
    public func prefixed(_ prefix: String) -> TopicDeclaration {
        var declaration = self
        declaration.name = prefix + name
        return declaration
    }
}
