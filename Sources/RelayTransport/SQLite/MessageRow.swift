import RelayCore

/// The one way a bus message is stored as a SQLite row: columns `topic, key, value, headers` (headers as a JSON
/// object, keys sorted). The embedded bus's `bus_messages` and the dispatcher's outbox (`relay_outbox`) both hold
/// messages this way.
public enum MessageRow {
    /// The columns, in the order `values(_:)` gives and `message(_:at:)` reads them.
    public static let columns = "topic, key, value, headers"

    public static func values(_ message: BusMessage) -> [SQLiteConnection.Value] {
        [.text(message.topic), .text(message.key), .blob(message.value), headers(message)]
    }

    /// `values(message)` and then `createdAt`: the embedded bus's row, in one array.
    static func values(_ message: BusMessage, createdAt: Double) -> [SQLiteConnection.Value] {
        [.text(message.topic), .text(message.key), .blob(message.value), headers(message), .double(createdAt)]
    }

    /// The headers column: a JSON object, keys sorted.
    private static func headers(_ message: BusMessage) -> SQLiteConnection.Value {
        // (Most messages, every job among them, have no headers.)
        guard !message.headers.isEmpty else { return .text("{}") }
        let headers = JSONObject(
            uniqueKeysWithValues: message.headers.sorted { $0.key < $1.key }.map {
                ($0.key, JSONValue.string($0.value))
            })
        return .text(JSONWriter.compact.string(.object(headers)))
    }

    /// The message in `row`, whose `columns` start at `index`.
    public static func message(_ row: [SQLiteConnection.Value], at index: Int) -> BusMessage {
        var headers: [String: String] = [:]
        if let text = row[index + 3].text, let object = try? JSONParser.parse(text).objectValue {
            for (key, value) in object { headers[key] = value.stringValue }
        }
        return BusMessage(
            topic: row[index].text ?? "", key: row[index + 1].text ?? "", value: row[index + 2].blob ?? [],
            headers: headers)
    }
}
