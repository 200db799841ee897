import RelayCore

/// A dead letter kept in the run store: a message no consumer could handle, as the dead-letter keeper read it from
/// `relay.dlq`, until an operator redrives it to its source topic or discards it (`relay dlq`, the API).
public struct DeadLetterRecord: Sendable, Equatable {
    /// The store's number for it, increasing: what `relay dlq show|redrive|discard` take.
    public var id: Int64
    /// Why it was dead-lettered (`relay.dlq.reason`).
    public var reason: String
    /// The topic it was read from (`relay.dlq.topic`); empty for a message of `relay.dlq` that was no readable dead
    /// letter (it cannot be redriven).
    public var sourceTopic: String
    /// Its position in the source topic (`relay.dlq.offset`); -1 when unknown.
    public var offset: Int64
    /// The original message's key, value and headers (without the `relay.dlq.*` ones).
    public var key: String
    public var value: [UInt8]
    public var headers: [String: String]
    /// When the keeper kept it, in seconds since 1970.
    public var receivedAt: Double
    /// Whether the store kept less than the whole message (a value above `DeadLetterLimits.maximumValueBytes`, a
    /// key or headers above their limits): it can be read and discarded, not redriven.
    public var truncated: Bool

    public init(
        id: Int64, reason: String, sourceTopic: String, offset: Int64, key: String, value: [UInt8],
        headers: [String: String], receivedAt: Double, truncated: Bool = false
    ) {
        self.id = id
        self.reason = reason
        self.sourceTopic = sourceTopic
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.receivedAt = receivedAt
        self.truncated = truncated
    }

    /// The first 512 bytes of the value as text (invalid UTF-8 replaced), for lists.
    public var excerpt: String {
        String(decoding: value.prefix(DeadLetterLimits.excerptBytes), as: UTF8.self)
    }

    /// `{id, reason, source_topic, offset, key, received_at (ISO 8601), excerpt}`, and `truncated: true` when the
    /// store kept less than the whole message.
    public var json: JSONValue {
        var object: JSONObject = [
            "id": .int(Int(id)), "reason": .string(reason), "source_topic": .string(sourceTopic),
            "offset": .int(Int(offset)),
            "key": .string(key), "received_at": .string(RunTime.text(receivedAt)), "excerpt": .string(excerpt),
        ]
        if truncated { object["truncated"] = .bool(true) }
        return .object(object)
    }
}

/// What the run store keeps of a dead letter, and how many it lists at once.
public enum DeadLetterLimits {
    /// The most bytes of a dead letter's value kept (1 MiB); past it the value is cut there and the letter marked
    /// truncated. (Kafka's default largest message is about 1 MB; the embedded bus has no such limit.)
    public static let maximumValueBytes = 1 << 20
    /// The most bytes of a key (64 KiB) and of the headers as JSON (64 KiB) kept; past them, as for the value.
    public static let maximumKeyBytes = 64 << 10
    public static let maximumHeaderBytes = 64 << 10
    /// The most bytes of a reason kept (8 KiB); a longer one is cut (the letter can still be redriven).
    public static let maximumReasonBytes = 8 << 10
    /// The most dead letters one read returns.
    public static let maximumList = 1000
    /// The bytes of the value an excerpt shows.
    public static let excerptBytes = 512
}
