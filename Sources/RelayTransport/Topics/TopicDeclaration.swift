import Foundation
import RelayCore
import Yams

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
    public static func load(yaml: String, file: String) throws -> [TopicDeclaration] {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw RelayError(.invalidYAML, "\(file): not valid YAML: \(error)")
        }
        guard let node else { return [] }
        let entries: [Node]
        if let list = node.mapping?["topics"] {
            guard let sequence = list.sequence else {
                throw RelayError(.invalidSpec, "\(file):\(list.mark?.line ?? 0): topics: expected a list, found \(list)")
            }
            entries = Array(sequence)
        } else {
            entries = [node]
        }
        return try entries.enumerated().map { offset, entry in
            try declaration(from: entry, file: file, path: entries.count == 1 && node.mapping?["topics"] == nil
                ? "" : "topics[\(offset)].")
        }
    }

    private static func declaration(from node: Node, file: String, path: String) throws -> TopicDeclaration {
        let line = node.mark?.line ?? 0
        guard let mapping = node.mapping else {
            throw RelayError(.invalidSpec, "\(file):\(line): \(path.isEmpty ? "topic" : path): expected a mapping")
        }
        guard let name = mapping["name"]?.string, !name.isEmpty else {
            throw RelayError(.invalidSpec, "\(file):\(line): \(path)name: expected a topic name")
        }
        func positive(_ key: String, default value: Int) throws -> Int {
            guard let field = mapping[key] else { return value }
            guard let int = field.int, int > 0 else {
                throw RelayError(
                    .invalidSpec,
                    "\(file):\(field.mark?.line ?? line): \(path)\(key): expected a positive integer, found \(field.string ?? "?")")
            }
            return int
        }
        var config: [String: String] = [:]
        if let configNode = mapping["config"] {
            guard let configMapping = configNode.mapping else {
                throw RelayError(.invalidSpec, "\(file):\(configNode.mark?.line ?? line): \(path)config: expected a mapping")
            }
            for (key, value) in configMapping {
                guard let k = key.string, let v = value.scalar?.string else {
                    throw RelayError(.invalidSpec, "\(file):\(key.mark?.line ?? line): \(path)config: expected string keys and scalar values")
                }
                config[k] = v
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
                    throw RelayError(.invalidSpec, "\(filePath): topic \(declaration.name) is already declared in \(first)")
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
