/// Relay's topic names (declared for Kafka in topics/*.yaml).
public enum Topics {
    public static let events = "relay.events"
    public static let results = "relay.results"
    public static let runs = "relay.runs"
    /// Requests about runs: cancel, resume (`RunControl`).
    public static let control = "relay.control"
    public static let dlq = "relay.dlq"
    public static func jobs(_ plugin: String) -> String { "relay.jobs.\(plugin)" }
}
