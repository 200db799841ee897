/// Why JSON read from the bus is not the message a stage expected: which message, where, what was expected and
/// what was found (`job route: meta.attempt: expected an integer ≥ 0, found "two"`).
public struct MessageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of message being read (`trigger event`, `job route`, `run notice`, `dead letter`).
    public var message: String
    /// Where in it (`eventId`, `meta.attempt`); empty for the message as a whole.
    public var field: String
    public var expected: String
    public var found: String

    public init(message: String, field: String, expected: String, found: String) {
        self.message = message
        self.field = field
        self.expected = expected
        self.found = found
    }

    public var description: String {
        "\(message): \(field.isEmpty ? "" : field + ": ")expected \(expected), found \(found)"
    }
}

/// Reads the fields of one message object, turning every missing or mistyped field into a `MessageDecodingError`
/// that names it. The typed messages' decoders are the only users: no stage reads these keys itself.
struct MessageFields {
    let message: String
    let object: JSONObject
    /// Prefix of field names in errors (`meta.`).
    let path: String

    init(_ json: JSONValue, message: String, path: String = "") throws(MessageDecodingError) {
        guard let object = json.objectValue else {
            throw MessageDecodingError(
                message: message, field: path.isEmpty ? "" : String(path.dropLast()), expected: "a JSON object",
                found: MessageFields.describe(json))
        }
        self.message = message
        self.object = object
        self.path = path
    }

    func missing(_ key: String, _ expected: String) -> MessageDecodingError {
        MessageDecodingError(message: message, field: path + key, expected: expected, found: "nothing")
    }

    func wrong(_ key: String, _ expected: String, _ value: JSONValue) -> MessageDecodingError {
        MessageDecodingError(message: message, field: path + key, expected: expected, found: Self.describe(value))
    }

    func string(_ key: String) throws(MessageDecodingError) -> String {
        guard let value = object[key], !value.isNull else { throw missing(key, "a string") }
        guard let string = value.stringValue else { throw wrong(key, "a string", value) }
        return string
    }

    func optionalString(_ key: String) throws(MessageDecodingError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let string = value.stringValue else { throw wrong(key, "a string", value) }
        return string
    }

    func integer(_ key: String, in range: ClosedRange<Int>? = nil) throws(MessageDecodingError) -> Int {
        let expected = range.map { "an integer from \($0.lowerBound) to \($0.upperBound)" } ?? "an integer"
        guard let value = object[key], !value.isNull else { throw missing(key, expected) }
        guard let int = value.intValue, range?.contains(int) ?? true else { throw wrong(key, expected, value) }
        return int
    }

    func optionalInteger(_ key: String, in range: ClosedRange<Int>) throws(MessageDecodingError) -> Int? {
        guard let value = object[key], !value.isNull else { return nil }
        return try integer(key, in: range)
    }

    func optionalNumber(_ key: String) throws(MessageDecodingError) -> Double? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let number = value.doubleValue, number.isFinite else { throw wrong(key, "a number", value) }
        return number
    }

    /// A short rendering of what was found: its JSON, cut at 80 characters.
    static func describe(_ value: JSONValue) -> String {
        let text = JSONWriter.compact.string(value)
        return text.count > 80 ? String(text.prefix(80)) + "…" : text
    }
}
