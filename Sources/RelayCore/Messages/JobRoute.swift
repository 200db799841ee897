/// Relay's routing data for one attempt of one step, carried in the `meta` of the job (a v1 `action_start`) and
/// echoed back in the `meta` of its result (a v1 `action_event`), where the worker adds `startedAt` and
/// `finishedAt` (both on its clock: the step's duration). The job's id, `runId/stepId/attempt`, makes a repeated
/// job or result harmless.
///
/// Wire form: `meta: {"jobId", "runId", "stepId", "attempt", "workflow", "timeoutMs", "connection"?,
/// "startedAt"?, "finishedAt"?, "item"?, "leftLoopAt"?}` (`item`: the position of a `for_each` step's item, whose job
/// id is `runId/stepId[item]/attempt`; `leftLoopAt`: on a sub-workflow run's result, the `break` step that ended it).
public struct JobRoute: Sendable, Equatable {
    public var jobID: String
    public var runID: String
    public var stepID: String
    /// 1 for the first attempt.
    public var attempt: Int
    /// For an item of a `for_each` step: its position in the array.
    public var item: Int?
    public var workflow: String
    /// How long the worker lets the step run.
    public var timeoutMilliseconds: Int
    /// The connection the step runs with, by name (`connections/<name>.yaml`).
    public var connection: String?
    /// Results only: when the worker started the step, in seconds since 1970.
    public var startedAt: Double?
    /// Results only: when the worker had the step's result, in seconds since 1970 (the same clock as `startedAt`).
    public var finishedAt: Double?
    /// Results of sub-workflow runs only (the dispatcher's own, never a worker's): the `break` step that ended the
    /// child run (`workflow.step`), so that the parent's loop starts no further items.
    public var leftLoopAt: String?

    public init(
        jobID: String, runID: String, stepID: String, attempt: Int, workflow: String, timeoutMilliseconds: Int,
        connection: String? = nil, startedAt: Double? = nil, item: Int? = nil
    ) {
        self.jobID = jobID
        self.runID = runID
        self.stepID = stepID
        self.attempt = attempt
        self.workflow = workflow
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connection = connection
        self.startedAt = startedAt
        self.item = item
    }

    /// The id of an attempt: `runId/stepId/attempt`.
    public static func jobID(runID: String, stepID: String, attempt: Int) -> String { "\(runID)/\(stepID)/\(attempt)" }

    /// The id of an attempt of one item of a `for_each` step: `runId/stepId[index]/attempt`.
    public static func jobID(runID: String, stepID: String, item: Int, attempt: Int) -> String {
        "\(runID)/\(stepID)[\(item)]/\(attempt)"
    }

    enum Key {
        static let jobID = "jobId"
        static let runID = "runId"
        static let stepID = "stepId"
        static let attempt = "attempt"
        static let workflow = "workflow"
        static let timeout = "timeoutMs"
        static let connection = "connection"
        static let startedAt = "startedAt"
        static let finishedAt = "finishedAt"
        static let item = "item"
        static let leftLoopAt = "leftLoopAt"
    }

    /// The `meta` object of the job or result.
    public var meta: JSONValue {
        var object: JSONObject = [
            Key.jobID: .string(jobID), Key.runID: .string(runID), Key.stepID: .string(stepID),
            Key.attempt: .int(attempt), Key.workflow: .string(workflow), Key.timeout: .int(timeoutMilliseconds),
        ]
        if let connection { object[Key.connection] = .string(connection) }
        if let startedAt { object[Key.startedAt] = .double(startedAt) }
        if let finishedAt { object[Key.finishedAt] = .double(finishedAt) }
        if let item { object[Key.item] = .int(item) }
        if let leftLoopAt { object[Key.leftLoopAt] = .string(leftLoopAt) }
        return .object(object)
    }

    /// Reads the routing data from a job's or a result's `meta`; the error names the field that is missing or
    /// wrong (`meta.jobId`).
    public init(meta: JSONValue) throws(MessageDecodingError) {
        let fields = try MessageFields(meta, message: "job route", path: "meta.")
        self.init(
            jobID: try fields.string(Key.jobID), runID: try fields.string(Key.runID),
            stepID: try fields.string(Key.stepID), attempt: try fields.integer(Key.attempt, in: 0...Int(Int32.max)),
            workflow: try fields.string(Key.workflow),
            // Any integer: the worker clamps it to the limits (a message's timeout was checked by no workflow).
            timeoutMilliseconds: try fields.integer(Key.timeout),
            connection: try fields.optionalString(Key.connection), startedAt: try fields.optionalNumber(Key.startedAt),
            item: try fields.optionalInteger(Key.item, in: 0...Int(Int32.max)))
        finishedAt = try fields.optionalNumber(Key.finishedAt)
        leftLoopAt = try fields.optionalString(Key.leftLoopAt)
    }
}
