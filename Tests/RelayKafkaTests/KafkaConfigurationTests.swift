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

    /// The pipeline's producer sends one request at a time per broker connection (what is published meanwhile goes
    /// in the next one) with no linger; a producer of its own keeps librdkafka's default; a property wins.
    @Test func thePipelinesProducerHasOneRequestInFlightUnlessAPropertySaysOtherwise() {
        func value(_ name: String, _ properties: [(String, String)]) -> String? { properties.last { $0.0 == name }?.1 }
        var transport = KafkaTransportConfiguration()
        let pipeline = KafkaTransport.producerConfiguration(transport).librdkafkaProperties()
        #expect(value("max.in.flight.requests.per.connection", pipeline) == "1")
        #expect(value("linger.ms", pipeline) == "0")
        #expect(value("enable.idempotence", pipeline) == "true")
        #expect(
            value("max.in.flight.requests.per.connection", KafkaProducerConfiguration().librdkafkaProperties()) == nil)
        transport.client.properties = ["max.in.flight.requests.per.connection": "5"]
        let overridden = KafkaTransport.producerConfiguration(transport).librdkafkaProperties()
        #expect(value("max.in.flight.requests.per.connection", overridden) == "5")
    }
}
