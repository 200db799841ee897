import CRdKafka

/// Facts about the librdkafka library Relay is linked against.
public enum Librdkafka {
    /// The version string of the linked librdkafka, e.g. `2.0.2`.
    public static var version: String {
        // rd_kafka_version_str returns a pointer to a static string owned by librdkafka: copy, never free.
        String(cString: rd_kafka_version_str())
    }

    /// The version as librdkafka encodes it: 0xMMmmrrpp.
    public static var versionNumber: Int { Int(rd_kafka_version()) }
}
