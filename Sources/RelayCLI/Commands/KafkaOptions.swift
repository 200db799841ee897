import ArgumentParser
import Foundation
import RelayKafka

/// The flags every Kafka command shares; each falls back to an environment variable.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers, HOST:PORT[,HOST:PORT…] (env RELAY_BROKERS).")
    var brokers: String?

    @Option(
        name: .customLong("kafka-property"), parsing: .singleValue,
        help: ArgumentHelp(
            "A librdkafka property KEY=VALUE, repeatable: security.protocol, sasl.*, ssl.* … (env "
                + "RELAY_KAFKA_PROPERTIES, comma-separated).",
            valueName: "KEY=VALUE"))
    var properties: [String] = []

    @Option(help: "The Kafka client id (env RELAY_KAFKA_CLIENT_ID).")
    var clientID: String?

    /// Whether brokers are given (flag or RELAY_BROKERS): commands that can also use the embedded bus use Kafka then.
    var isConfigured: Bool {
        !(brokers ?? ProcessInfo.processInfo.environment["RELAY_BROKERS"] ?? "").isEmpty
    }

    func client(defaultClientID: String = "relay") throws -> KafkaClientConfiguration {
        let environment = ProcessInfo.processInfo.environment
        guard let brokers = brokers ?? environment["RELAY_BROKERS"], !brokers.isEmpty else {
            throw CLIFailure("no Kafka brokers: pass --brokers HOST:PORT or set RELAY_BROKERS")
        }
        var pairs = properties
        if let fromEnvironment = environment["RELAY_KAFKA_PROPERTIES"], !fromEnvironment.isEmpty {
            pairs = fromEnvironment.split(separator: ",").map(String.init) + pairs
        }
        return KafkaClientConfiguration(
            bootstrapServers: Self.servers(brokers),
            clientID: clientID ?? environment["RELAY_KAFKA_CLIENT_ID"] ?? defaultClientID,
            properties: try Self.parse(pairs))
    }

    /// `HOST:PORT[,HOST:PORT…]` as a list.
    static func servers(_ brokers: String) -> [String] {
        brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `KEY=VALUE` pairs as librdkafka properties.
    static func parse(_ pairs: [String]) throws -> [String: String] {
        var parsed: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CLIFailure("--kafka-property \(pair): expected KEY=VALUE")
            }
            parsed[String(pair[..<equals]).trimmingCharacters(in: .whitespaces)] = String(
                pair[pair.index(after: equals)...])
        }
        return parsed
    }
}

/// `--topic-prefix`: Relay's topics and consumer groups under a prefix, so several installations share a cluster.
struct TopicPrefixOption: ParsableArguments {
    @Option(
        help: "Put before every topic and consumer group name on the broker, e.g. 'staging.' (env RELAY_TOPIC_PREFIX).")
    var topicPrefix: String = ProcessInfo.processInfo.environment["RELAY_TOPIC_PREFIX"] ?? ""
}
