import Testing

@testable import RelayKafka

/// What the consumers ask librdkafka for: the fetch wait that keeps a hop short on a broker that holds fetches to
/// their end (docs/kafka.md, *Latency*), and an operator's property winning over it (librdkafka applies them in
/// order, the last one set wins).
@Suite struct KafkaConfigurationTests {
    @Test func consumersHoldAFetchAtMost50msUnlessAPropertySaysOtherwise() {
        let defaults = KafkaConsumerConfiguration().librdkafkaProperties()
        #expect(defaults.last { $0.0 == "fetch.wait.max.ms" }?.1 == "50")
        var configuration = KafkaConsumerConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: ["b:9092"], properties: ["fetch.wait.max.ms": "5"]),
            groupID: "g")
        #expect(configuration.librdkafkaProperties().last { $0.0 == "fetch.wait.max.ms" }?.1 == "5")
        configuration.client.properties = [:]
        configuration.fetchWaitMaxMilliseconds = 200
        #expect(configuration.librdkafkaProperties().last { $0.0 == "fetch.wait.max.ms" }?.1 == "200")
    }
}
