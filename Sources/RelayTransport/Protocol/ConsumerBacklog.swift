/// How far a consumer group is behind on a topic: the messages published past the group's committed position (on
/// Kafka, the sum over the topic's partitions of the high watermark minus the committed offset).
public struct ConsumerBacklog: Sendable, Hashable {
    public var group: String
    public var topic: String
    public var messages: Int64

    public init(group: String, topic: String, messages: Int64) {
        self.group = group
        self.topic = topic
        self.messages = messages
    }
}
