/// A request about one run, on `relay.control`, keyed by the run: `relay runs cancel` and `relay runs resume` send
/// them, and the dispatcher sends itself `start` for a sub-workflow step's retry whose backoff has passed. Carried
/// as a message (not a write to the run store) so that it works the same on the embedded bus and on Kafka, and is
/// decided in the dispatcher's order with the run's other messages.
///
/// `relay runs answer` sends `answer`: the option a person picked for a `decision` step that waits; the dispatcher
/// keeps an `expire` for each decision with a timeout until it is due.
///
/// Wire form: `{"command": "cancel" | "resume" | "start" | "answer", "runId", "jobId"?, "reason"?, "stepId"?,
/// "option"?, "by"?}` (`answer` has `stepId` and `option`; `expire`, `stepId` and `jobId`).
public struct RunControl: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        /// End the run as cancelled: nothing new starts, its sub-workflows' runs are cancelled.
        case cancel
        /// Continue a failed or cancelled run: failed and not-started steps run again, succeeded ones keep their
        /// outputs.
        case resume
        /// Start the sub-workflow run of the step (or item) attempt `jobId` (a retry whose backoff has passed).
        case start
        /// Answer the `decision` step `stepId` that waits with `option` (`by`: who answered).
        case answer
        /// The timeout of the decision attempt `jobId` (of step `stepId`) has passed (the dispatcher's own, kept until
        /// it is due): its default answers it, or it fails.
        case expire
    }

    public var command: Command
    public var runID: String
    public var jobID: String?
    /// Why, as the requester put it (recorded with a cancelled run).
    public var reason: String?
    /// `answer`: the decision step, the option picked and who picked it.
    public var stepID: String?
    public var option: String?
    public var answeredBy: String?

    public init(command: Command, runID: String, jobID: String? = nil, reason: String? = nil) {
        self.command = command
        self.runID = runID
        self.jobID = jobID
        self.reason = reason
    }

    /// An answer to the decision step `stepID` of run `runID`.
    public static func answer(runID: String, stepID: String, option: String, by: String?) -> RunControl {
        var control = RunControl(command: .answer, runID: runID)
        control.stepID = stepID
        control.option = option
        control.answeredBy = by
        return control
    }

    enum Key {
        static let command = "command"
        static let runID = "runId"
        static let jobID = "jobId"
        static let reason = "reason"
        static let stepID = "stepId"
        static let option = "option"
        static let answeredBy = "by"
    }

    public var json: JSONValue {
        var object: JSONObject = [Key.command: .string(command.rawValue), Key.runID: .string(runID)]
        if let jobID { object[Key.jobID] = .string(jobID) }
        if let reason { object[Key.reason] = .string(reason) }
        if let stepID { object[Key.stepID] = .string(stepID) }
        if let option { object[Key.option] = .string(option) }
        if let answeredBy { object[Key.answeredBy] = .string(answeredBy) }
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
        switch command {
        case .answer:
            stepID = try fields.string(Key.stepID)
            option = try fields.string(Key.option)
            answeredBy = try fields.optionalString(Key.answeredBy)
        case .expire:
            stepID = try fields.string(Key.stepID)
            jobID = try fields.string(Key.jobID)
        default: break
        }
    }

    public init(bytes: [UInt8]) throws(MessageDecodingError) {
        self = try RunControl(json: MessageJSON.parse(bytes, message: "run control"))
    }
}
