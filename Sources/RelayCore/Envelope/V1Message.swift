/// An InsightConnect v1 protocol message: `{"version": "v1", "type": "action_start", "body": {…}}`.
public struct V1Message: Sendable, Equatable {
    /// The message types of the v1 protocol.
    public enum Kind: String, Sendable, CaseIterable {
        case actionStart = "action_start"
        case actionEvent = "action_event"
        case triggerStart = "trigger_start"
        case triggerEvent = "trigger_event"
        case taskStart = "task_start"
        case taskEvent = "task_event"
        case connectionTest = "connection_test"

        /// The `<x>_event` type answering a start message.
        public var eventKind: Kind {
            switch self {
            case .actionStart, .actionEvent, .connectionTest: .actionEvent
            case .triggerStart, .triggerEvent: .triggerEvent
            case .taskStart, .taskEvent: .taskEvent
            }
        }
    }

    public var version: String
    public var kind: Kind
    public var body: JSONObject

    public init(kind: Kind, body: JSONObject, version: String = "v1") {
        self.version = version
        self.kind = kind
        self.body = body
    }

    public var json: JSONValue {
        ["body": .object(body), "version": .string(version), "type": .string(kind.rawValue)]
    }

    /// Decodes a message with the runtime's checks and messages (`"type" missing from input message`, …).
    public init(json: JSONValue) throws(V1ProtocolError) {
        guard case .object(let object) = json else {
            throw V1ProtocolError("Input message is not a dictionary, found \(json.typeName)")
        }
        guard let type = object["type"] else { throw V1ProtocolError("\"type\" missing from input message") }
        guard let version = object["version"] else { throw V1ProtocolError("\"version\" missing from input message") }
        guard let body = object["body"] else { throw V1ProtocolError("\"body\" missing from input message") }
        guard version == "v1" else {
            throw V1ProtocolError(
                "Unsupported version '\(version.stringValue ?? JSONWriter.compact.string(version))'. "
                    + "Only v1 is supported"
            )
        }
        guard let name = type.stringValue, let kind = Kind(rawValue: name) else {
            throw V1ProtocolError(
                "Unsupported message type \(JSONWriter.compact.string(type)); expected one of "
                    + "\(Kind.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard case .object(let bodyObject) = body else {
            throw V1ProtocolError("\"body\" must be an object, found \(body.typeName)")
        }
        self.init(kind: kind, body: bodyObject)
    }

    public init(text: String) throws(V1ProtocolError) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(text)
        } catch {
            throw V1ProtocolError("Input message is not valid JSON: \(error)")
        }
        try self.init(json: json)
    }
}

/// A message that does not follow the v1 protocol.
public struct V1ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
