import Foundation
import Logging
import RelayKafka
import Testing

/// The test broker (Tansu behind the ApiVersions proxy, started by scripts/test or scripts/test-broker).
enum TestBroker {
    static let address = ProcessInfo.processInfo.environment["RELAY_TEST_KAFKA_BROKERS"].flatMap {
        $0.isEmpty ? nil : $0
    }
    static let isAvailable = address != nil
    static let skipReason: Comment = "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"

    static var client: KafkaClientConfiguration {
        KafkaClientConfiguration(bootstrapServers: [address ?? "127.0.0.1:39093"], clientID: "relay-tests")
    }

    /// Consumer settings for Tansu: its first join waits about half the session timeout.
    static func consumer(group: String, client: KafkaClientConfiguration = client) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(client: client, groupID: group)
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        return configuration
    }
}

/// Names unique to one test: tests run in parallel against one broker.
func uniqueName(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

let quietLogger: Logger = {
    var logger = Logger(label: "relay.kafka.tests")
    logger.logLevel =
        ProcessInfo.processInfo.environment["RELAY_TEST_KAFKA_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}()
