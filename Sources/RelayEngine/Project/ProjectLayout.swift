import Foundation

/// Where a Relay project directory keeps things: workflows, connections, plugins and Relay's own state.
public struct ProjectLayout: Sendable, Equatable {
    public var root: String

    public init(root: String = ".") { self.root = root }

    public var workflows: String { join("workflows") }
    public var connections: String { join("connections") }
    public var plugins: String { join("plugins") }
    /// Kafka topic declarations (`relay topics apply`, and topics the Kafka processes create).
    public var topics: String { join("topics") }
    public var stateDirectory: String { join(".relay") }
    public var database: String { join(".relay/relay.sqlite") }
    /// The default place of the master key that seals connection secrets (RELAY_MASTER_KEY and
    /// RELAY_MASTER_KEY_FILE take precedence).
    public var masterKey: String { join(".relay/master.key") }

    /// The workflow files (`workflows/*.yaml` and `*.yml`), as paths under `workflows`, sorted: what `Project.load`
    /// reads at start and the workflow watcher reads again on every poll.
    public func workflowFiles() -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: workflows)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        return names.map { (workflows as NSString).appendingPathComponent($0) }
    }

    private func join(_ component: String) -> String {
        root.hasSuffix("/") ? root + component : root + "/" + component
    }
}
