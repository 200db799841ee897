import RelayCore

/// An error a plugin reports, shaped like the InsightConnect runtime's `PluginException` and
/// `ConnectionTestException`: a `cause` (what went wrong), an `assistance` (what the user can do) and optional
/// `data` (details, such as the body of a failed HTTP response).
public struct PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    public var cause: String
    public var assistance: String
    public var data: JSONValue?

    public init(cause: String, assistance: String = "", data: JSONValue? = nil) {
        self.cause = cause
        self.assistance = assistance
        self.data = data
    }

    /// `cause`, then `assistance`, then the data: the one-line form for logs and terminals. The parts travel
    /// separately in a v1 envelope's `exception` object.
    public var description: String {
        var text = cause
        if !assistance.isEmpty { text += " " + assistance }
        if let data { text += " Response was: \(data)" }
        return text
    }

    /// The `exception` object of a v1 envelope.
    public var exceptionBody: JSONValue {
        var body: JSONObject = ["cause": .string(cause), "assistance": .string(assistance)]
        if let data { body["data"] = data }
        return .object(body)
    }
}
