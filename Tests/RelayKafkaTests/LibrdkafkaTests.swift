import RelayKafka
import Testing

@Suite struct LibrdkafkaTests {
    @Test func linksAgainstLibrdkafka2() {
        // Debian 12 ships librdkafka 2.0.2; the wrapper is written against the 2.x API.
        #expect(Librdkafka.version.hasPrefix("2."))
        #expect(Librdkafka.versionNumber >> 24 == 2)
    }
}
