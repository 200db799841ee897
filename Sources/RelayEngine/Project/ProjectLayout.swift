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

    private func join(_ component: String) -> String {
        root.hasSuffix("/") ? root + component : root + "/" + component
    }
}
