/// What the dispatcher publishes on `relay.runs` when a run ends (`relay up` prints a line for each).
///
/// Wire form: `{"runId", "workflow", "status"}`.
public struct RunNotice: Sendable, Equatable {
    public var runID: String
    public var workflow: String
    public var status: RunStatus

    public init(runID: String, workflow: String, status: RunStatus) {
        self.runID = runID
        self.workflow = workflow
        self.status = status
    }

    enum Key {
        static let runID = "runId"
        static let workflow = "workflow"
        static let status = "status"
    }

    public var json: JSONValue {
        [Key.runID: .string(runID), Key.workflow: .string(workflow), Key.status: .string(status.rawValue)]
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let fields = try MessageFields(json, message: "run notice")
        let statusText = try fields.string(Key.status)
        guard let status = RunStatus(rawValue: statusText) else {
            throw fields.wrong(
                Key.status, "one of " + RunStatus.allCases.map(\.rawValue).joined(separator: ", "),
                .string(statusText))
        }
        self.init(runID: try fields.string(Key.runID), workflow: try fields.string(Key.workflow), status: status)
    }

    public init(bytes: [UInt8]) throws(MessageDecodingError) {
        self = try RunNotice(json: MessageJSON.parse(bytes, message: "run notice"))
    }
}
