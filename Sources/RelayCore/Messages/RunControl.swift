/// A request about one run, on `relay.control`, keyed by the run: `relay runs cancel` and `relay runs resume` send
/// them, and the dispatcher sends itself `start` for a sub-workflow step's retry whose backoff has passed. Carried
/// as a message (not a write to the run store) so that it works the same on the embedded bus and on Kafka, and is
/// decided in the dispatcher's order with the run's other messages.
///
/// Wire form: `{"command": "cancel" | "resume" | "start", "runId", "jobId"?, "reason"?}`.
public struct RunControl: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        /// End the run as cancelled: nothing new starts, its sub-workflows' runs are cancelled.
        case cancel
        /// Continue a failed or cancelled run: failed and not-started steps run again, succeeded ones keep their
        /// outputs.
        case resume
        /// Start the sub-workflow run of the step (or item) attempt `jobId` (a retry whose backoff has passed).
        case start
    }

    public var command: Command
    public var runID: String
    public var jobID: String?
    /// Why, as the requester put it (recorded with a cancelled run).
    public var reason: String?

    public init(command: Command, runID: String, jobID: String? = nil, reason: String? = nil) {
        self.command = command
        self.runID = runID
        self.jobID = jobID
        self.reason = reason
    }

    enum Key {
        static let command = "command"
        static let runID = "runId"
        static let jobID = "jobId"
        static let reason = "reason"
    }

    public var json: JSONValue {
        var object: JSONObject = [Key.command: .string(command.rawValue), Key.runID: .string(runID)]
        if let jobID { object[Key.jobID] = .string(jobID) }
        if let reason { object[Key.reason] = .string(reason) }
        return .object(object)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let fields = try MessageFields(json, message: "run control")
        let text = try fields.string(Key.command)
        guard let command = Command(rawValue: text) else {
            throw fields.wrong(
                Key.command, "one of " + Command.allCases.map(\.rawValue).joined(separator: ", "), .string(text))
        }
        self.init(
            command: command, runID: try fields.string(Key.runID), jobID: try fields.optionalString(Key.jobID),
            reason: try fields.optionalString(Key.reason))
    }

    public init(bytes: [UInt8]) throws(MessageDecodingError) {
        self = try RunControl(json: MessageJSON.parse(bytes, message: "run control"))
    }
}
