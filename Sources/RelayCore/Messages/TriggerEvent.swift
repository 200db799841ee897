/// What a trigger publishes on `relay.events` and the dispatcher turns into runs: one event of one trigger
/// instance. Its id makes a redelivered event a no-op (the run store records every id it has seen).
///
/// Wire form (JSON): `{"eventId", "instance", "plugin", "trigger", "output", "time"}`; `plugin`, `trigger` and
/// `time` are informative and optional, `output` defaults to `{}`.
public struct TriggerEvent: Sendable, Equatable {
    public var id: String
    /// The trigger instance it came from (`Workflow.Trigger.instanceID`): what binds it to workflows.
    public var instance: String
    public var plugin: String?
    public var trigger: String?
    /// The trigger's output: the run's `trigger` scope.
    public var output: JSONValue
    /// When it was published, in seconds since 1970.
    public var time: Double?

    public init(
        id: String, instance: String, plugin: String? = nil, trigger: String? = nil, output: JSONValue = [:],
        time: Double? = nil
    ) {
        self.id = id
        self.instance = instance
        self.plugin = plugin
        self.trigger = trigger
        self.output = output
        self.time = time
    }

    enum Key {
        static let id = "eventId"
        static let instance = "instance"
        static let plugin = "plugin"
        static let trigger = "trigger"
        static let output = "output"
        static let time = "time"
    }

    public var json: JSONValue {
        var object: JSONObject = [Key.id: .string(id), Key.instance: .string(instance)]
        if let plugin { object[Key.plugin] = .string(plugin) }
        if let trigger { object[Key.trigger] = .string(trigger) }
        object[Key.output] = output
        if let time { object[Key.time] = .double(time) }
        return .object(object)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let fields = try MessageFields(json, message: "trigger event")
        self.init(
            id: try fields.string(Key.id), instance: try fields.string(Key.instance),
            plugin: try fields.optionalString(Key.plugin), trigger: try fields.optionalString(Key.trigger),
            output: fields.object[Key.output] ?? [:], time: try fields.optionalNumber(Key.time))
    }

    /// Reads an event from a message's bytes: a JSON parse error or a decoding error names what was wrong.
    public init(bytes: [UInt8]) throws(MessageDecodingError) {
        self = try TriggerEvent(json: MessageJSON.parse(bytes, message: "trigger event"))
    }
}

/// Parsing a message's bytes, with the parse error as a decoding error of that message.
enum MessageJSON {
    static func parse(_ bytes: [UInt8], message: String) throws(MessageDecodingError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes: bytes)
        } catch {
            throw MessageDecodingError(
                message: message, field: "", expected: "JSON", found: "\(error) in \(MessageText.excerpt(bytes))")
        }
    }
}

/// Messages quoted in errors and dead-letter reasons.
public enum MessageText {
    /// The first 120 bytes of a message, quoted, for errors and dead-letter reasons.
    public static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return "\"" + text + (bytes.count > 120 ? "…" : "") + "\""
    }
}
