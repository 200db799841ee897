/// A message no consumer could handle, set aside on the dead-letter topic with the reason: its key and value
/// unchanged, its headers kept, and three headers added saying why and where it came from.
///
/// Wire form: the original key and value; headers `relay.dlq.reason`, `relay.dlq.topic`, `relay.dlq.offset`
/// beside the original ones.
public struct DeadLetter: Sendable, Equatable {
    public var reason: String
    /// The topic it was read from, and its position there.
    public var sourceTopic: String
    public var offset: Int64
    public var key: String
    public var value: [UInt8]
    /// The original message's headers (without the three above).
    public var originalHeaders: [String: String]

    public init(
        reason: String, sourceTopic: String, offset: Int64, key: String, value: [UInt8],
        originalHeaders: [String: String] = [:]
    ) {
        self.reason = reason
        self.sourceTopic = sourceTopic
        self.offset = offset
        self.key = key
        self.value = value
        self.originalHeaders = originalHeaders
    }

    enum Header {
        static let reason = "relay.dlq.reason"
        static let topic = "relay.dlq.topic"
        static let offset = "relay.dlq.offset"
        static let all: Set = [reason, topic, offset]
    }

    /// The headers of the dead-letter message.
    public var headers: [String: String] {
        var headers = originalHeaders
        headers[Header.reason] = reason
        headers[Header.topic] = sourceTopic
        headers[Header.offset] = String(offset)
        return headers
    }

    /// Reads a dead letter from the message on the dead-letter topic.
    public init(key: String, value: [UInt8], headers: [String: String]) throws(MessageDecodingError) {
        func header(_ name: String) throws(MessageDecodingError) -> String {
            guard let text = headers[name] else {
                throw MessageDecodingError(
                    message: "dead letter", field: "header " + name, expected: "a header", found: "nothing")
            }
            return text
        }
        let offsetText = try header(Header.offset)
        guard let offset = Int64(offsetText) else {
            throw MessageDecodingError(
                message: "dead letter", field: "header " + Header.offset, expected: "an offset (an integer)",
                found: "\"\(offsetText)\"")
        }
        self.init(
            reason: try header(Header.reason), sourceTopic: try header(Header.topic), offset: offset, key: key,
            value: value, originalHeaders: headers.filter { !Header.all.contains($0.key) })
    }
}
