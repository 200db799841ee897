/// The body of a start message (`action_start`, `trigger_start`, `task_start`, `connection_test`), typed.
public struct StepStart: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case action(String)
        case trigger(String)
        case task(String)
        /// A connection test; the name of the step it came with, if any.
        case connectionTest
    }

    public var step: Step
    public var input: JSONValue
    public var connection: JSONValue
    public var meta: JSONValue
    /// Tasks: the state left by the previous run.
    public var state: JSONValue?
    /// Tasks: `custom_config`.
    public var customConfig: JSONValue?
    /// Triggers: where to send events (`dispatcher.url`) and the webhook address (`dispatcher.webhook_url`).
    public var dispatcherURL: String?
    public var webhookURL: String?

    public init(
        step: Step, input: JSONValue = [:], connection: JSONValue = [:], meta: JSONValue = [:],
        state: JSONValue? = nil, customConfig: JSONValue? = nil, dispatcherURL: String? = nil, webhookURL: String? = nil
    ) {
        self.step = step
        self.input = input
        self.connection = connection
        self.meta = meta
        self.state = state
        self.customConfig = customConfig
        self.dispatcherURL = dispatcherURL
        self.webhookURL = webhookURL
    }

    /// Reads the body of a start message, with the runtime's messages for what is missing.
    public init(message: V1Message) throws(V1ProtocolError) {
        let body = message.body
        func name(_ key: String) throws(V1ProtocolError) -> String {
            guard let value = body[key]?.stringValue else {
                throw V1ProtocolError("Message is \(message.kind.rawValue) but field \"\(key)\" is missing from body")
            }
            return value
        }
        let step: Step
        switch message.kind {
        case .actionStart: step = .action(try name("action"))
        case .triggerStart: step = .trigger(try name("trigger"))
        case .taskStart: step = .task(try name("task"))
        case .connectionTest: step = .connectionTest
        default: throw V1ProtocolError("Expected a start message, found \(message.kind.rawValue)")
        }
        self.init(
            step: step,
            // Absent: an empty object. A null stays null: an input that renders to null reaches the plugin as null,
            // whether the job is read from its bytes or taken as kept (`KeptJobTests`).
            input: body["input"] ?? [:],
            connection: body["connection"] ?? [:],
            meta: body["meta"] ?? .null,
            state: body["state"],
            customConfig: body["custom_config"],
            dispatcherURL: body["dispatcher"]?["url"]?.stringValue,
            webhookURL: body["dispatcher"]?["webhook_url"]?.stringValue)
    }

    /// The start message, keys in the runtime's order (`action`, `meta`, `input`, `connection`, …).
    public var message: V1Message {
        var body: JSONObject = [:]
        let kind: V1Message.Kind
        switch step {
        case .action(let name):
            kind = .actionStart
            body["action"] = .string(name)
        case .trigger(let name):
            kind = .triggerStart
            body["trigger"] = .string(name)
        case .task(let name):
            kind = .taskStart
            body["task"] = .string(name)
        case .connectionTest:
            kind = .connectionTest
        }
        body["meta"] = meta
        body["input"] = input
        if case .trigger = step {
            var dispatcher: JSONObject = [:]
            dispatcher["url"] = .string(dispatcherURL ?? "")
            dispatcher["webhook_url"] = .string(webhookURL ?? "")
            body["dispatcher"] = .object(dispatcher)
        }
        body["connection"] = connection
        if case .task = step {
            body["state"] = state ?? [:]
            body["custom_config"] = customConfig ?? [:]
        }
        return V1Message(kind: kind, body: body)
    }
}
