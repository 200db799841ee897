/// The body of an `<x>_event` message: what a step produced.
public struct StepEvent: Sendable, Equatable {
    public enum Status: String, Sendable { case ok, error }

    public var status: Status
    public var output: JSONValue?
    /// The error text (present when `status` is `error`).
    public var error: String?
    /// `{"cause", "assistance", "data"}` of a PluginException or ConnectionTestException.
    public var exception: StepException?
    /// The step's log lines, as one string.
    public var log: String
    public var meta: JSONValue
    /// Tasks only.
    public var state: JSONValue?
    public var hasMorePages: Bool?
    public var statusCode: Int?
    /// How the step failed, for hosts that map failures to HTTP statuses; not part of the envelope.
    public var errorKind: ErrorKind?

    /// Failure classes, as the runtime's HTTP server tells them apart.
    public enum ErrorKind: String, Sendable {
        /// The plugin raised a PluginError (HTTP 400).
        case plugin
        /// Bad input, bad connection parameters, an unknown step (HTTP 400).
        case client
        /// Anything unexpected (HTTP 500).
        case server
        /// The step ran past its deadline.
        case timeout
        /// No connection test (HTTP 501).
        case notImplemented
    }

    public init(
        status: Status, output: JSONValue? = nil, error: String? = nil, exception: StepException? = nil,
        log: String = "", meta: JSONValue = .null, state: JSONValue? = nil, hasMorePages: Bool? = nil,
        statusCode: Int? = nil
    ) {
        self.status = status
        self.output = output
        self.error = error
        self.exception = exception
        self.log = log
        self.meta = meta
        self.state = state
        self.hasMorePages = hasMorePages
        self.statusCode = statusCode
    }

    public static func success(_ output: JSONValue, log: String = "", meta: JSONValue = .null) -> StepEvent {
        StepEvent(status: .ok, output: output, log: log, meta: meta)
    }

    public static func failure(
        _ error: String, exception: StepException? = nil, log: String = "", meta: JSONValue = .null
    ) -> StepEvent {
        StepEvent(status: .error, error: error, exception: exception, log: log, meta: meta)
    }

    /// The body in the runtime's key order: `log`, `status`, `meta`, the task keys, `output` or `error`,
    /// `exception`.
    public var body: JSONObject {
        var body: JSONObject = ["log": .string(log), "status": .string(status.rawValue), "meta": meta]
        if let state { body["state"] = state }
        if let hasMorePages { body["has_more_pages"] = .bool(hasMorePages) }
        if let statusCode { body["status_code"] = .int(statusCode) }
        switch status {
        case .ok: body["output"] = output ?? .null
        case .error: body["error"] = .string(error ?? "")
        }
        if let exception { body["exception"] = exception.json }
        return body
    }

    public func message(kind: V1Message.Kind) -> V1Message { V1Message(kind: kind, body: body) }

    /// The event as its body reads back (`init(body:)` of `body`), without writing it: only what the envelope
    /// carries for its status (an `ok` event's output, `null` when absent; an `error` event's error, "" when absent),
    /// and no `errorKind`. What a process hands over as values must be what another would read from its message.
    public var asSent: StepEvent {
        StepEvent(
            // (`Optional.none`, not `nil`: JSONValue is ExpressibleByNilLiteral, and `nil` here would be JSON null.)
            status: status, output: status == .ok ? (output ?? .null) : Optional.none,
            error: status == .error ? (error ?? "") : nil, exception: exception, log: log, meta: meta, state: state,
            hasMorePages: hasMorePages, statusCode: statusCode)
    }

    /// Reads an event body, tolerating what real plugins omit (`log`, `meta`).
    public init(body: JSONObject) throws(V1ProtocolError) {
        guard let statusText = body["status"]?.stringValue, let status = Status(rawValue: statusText) else {
            throw V1ProtocolError("event body has no \"status\" of \"ok\" or \"error\"")
        }
        self.init(
            status: status,
            output: body["output"],
            error: body["error"].map { $0.stringValue ?? JSONWriter.compact.string($0) },
            exception: body["exception"].flatMap(StepException.init(json:)),
            log: body["log"]?.stringValue ?? "",
            meta: body["meta"] ?? .null,
            state: body["state"],
            hasMorePages: body["has_more_pages"]?.boolValue,
            statusCode: body["status_code"]?.intValue)
    }
}

/// The `exception` object of an event.
public struct StepException: Sendable, Equatable {
    public var cause: String
    public var assistance: String
    public var data: JSONValue

    public init(cause: String, assistance: String, data: JSONValue = .null) {
        self.cause = cause
        self.assistance = assistance
        self.data = data
    }

    public init?(json: JSONValue) {
        guard case .object(let object) = json else { return nil }
        cause = object["cause"]?.stringValue ?? ""
        assistance = object["assistance"]?.stringValue ?? ""
        data = object["data"] ?? .null
    }

    public var json: JSONValue {
        ["cause": .string(cause), "assistance": .string(assistance), "data": data]
    }
}
