import Foundation
import RelayCore

/// A run as lists show it.
public struct RunSummary: Sendable, Equatable {
    public var id: String
    public var workflow: String
    public var status: RunStatus
    /// Seconds since 1970.
    public var startedAt: Double
    public var finishedAt: Double?
    public var error: String?
    /// The hash of the workflow version the run runs (nil for a run recorded before versions were kept).
    public var version: String?
    /// The run whose step started this one (a sub-workflow's run), and that step.
    public var parentRunID: String?
    public var parentStepID: String?

    public init(
        id: String, workflow: String, status: RunStatus, startedAt: Double, finishedAt: Double? = nil,
        error: String? = nil, version: String? = nil, parentRunID: String? = nil, parentStepID: String? = nil
    ) {
        self.id = id
        self.workflow = workflow
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
        self.version = version
        self.parentRunID = parentRunID
        self.parentStepID = parentStepID
    }

    /// How `relay runs list --json` shows it.
    public var json: JSONValue {
        [
            "id": .string(id), "workflow": .string(workflow), "status": .string(status.rawValue),
            "started": .string(RunTime.text(startedAt)),
            "finished": finishedAt.map { .string(RunTime.text($0)) } ?? .null,
            "error": error.map(JSONValue.string) ?? .null,
            "version": version.map(JSONValue.string) ?? .null,
            "parent_run": parentRunID.map(JSONValue.string) ?? .null,
            "parent_step": parentStepID.map(JSONValue.string) ?? .null,
        ]
    }
}

/// A result that came for an attempt after its deadline had failed it: recorded, changing nothing.
public struct LateResult: Sendable, Equatable {
    public var status: StepStatus
    public var error: String?
    public var at: Double

    public init(status: StepStatus, error: String?, at: Double) {
        self.status = status
        self.error = error
        self.at = at
    }

    public var json: JSONValue {
        [
            "status": .string(status.rawValue), "error": error.map(JSONValue.string) ?? .null,
            "at": .string(RunTime.text(at)),
        ]
    }
}

/// One attempt of a step as `relay runs show` gives it.
public struct StepAttempt: Sendable, Equatable {
    public var stepID: String
    public var attempt: Int
    public var status: StepStatus
    public var input: JSONValue?
    public var output: JSONValue?
    public var error: String?
    public var exception: JSONValue?
    /// What the plugin wrote to its log for this attempt (the v1 result's `log`), at most `StepLog.limit`.
    public var log: String?
    public var scheduledAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    /// A result that came after the attempt's deadline had failed it.
    public var late: LateResult?
    /// The run this attempt started (a sub-workflow step).
    public var childRunID: String?

    public init(
        stepID: String, attempt: Int, status: StepStatus, input: JSONValue? = nil, output: JSONValue? = nil,
        error: String? = nil, exception: JSONValue? = nil, scheduledAt: Double, startedAt: Double? = nil,
        finishedAt: Double? = nil
    ) {
        self.stepID = stepID
        self.attempt = attempt
        self.status = status
        self.input = input
        self.output = output
        self.error = error
        self.exception = exception
        self.scheduledAt = scheduledAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    public var json: JSONValue {
        var step: JSONObject = [
            "step": .string(stepID), "attempt": .int(attempt), "status": .string(status.rawValue),
        ]
        step["input"] = input ?? .null
        step["output"] = output ?? .null
        step["error"] = error.map(JSONValue.string) ?? .null
        step["exception"] = exception ?? .null
        step["log"] = log.map(JSONValue.string) ?? .null
        RunTime.addAttemptDetails(
            to: &step, scheduledAt: scheduledAt, startedAt: startedAt, finishedAt: finishedAt, late: late,
            childRunID: childRunID)
        return .object(step)
    }
}

/// One attempt of one item of a `for_each` step as `relay runs show` gives it.
public struct ItemAttempt: Sendable, Equatable {
    public var stepID: String
    /// The item's position in the array.
    public var index: Int
    public var attempt: Int
    public var status: ItemStatus
    public var input: JSONValue?
    public var output: JSONValue?
    public var error: String?
    /// What the plugin wrote to its log for this item's attempt, at most `StepLog.limit`.
    public var log: String?
    public var scheduledAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    /// A result that came after the attempt's deadline had failed it.
    public var late: LateResult?
    /// The run this item attempt started (a `for_each` over a sub-workflow).
    public var childRunID: String?

    public init(
        stepID: String, index: Int, attempt: Int, status: ItemStatus, input: JSONValue? = nil,
        output: JSONValue? = nil, error: String? = nil, scheduledAt: Double, startedAt: Double? = nil,
        finishedAt: Double? = nil
    ) {
        self.stepID = stepID
        self.index = index
        self.attempt = attempt
        self.status = status
        self.input = input
        self.output = output
        self.error = error
        self.scheduledAt = scheduledAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    public var json: JSONValue {
        var item: JSONObject = [
            "index": .int(index), "attempt": .int(attempt), "status": .string(status.rawValue),
        ]
        item["input"] = input ?? .null
        item["output"] = output ?? .null
        item["error"] = error.map(JSONValue.string) ?? .null
        item["log"] = log.map(JSONValue.string) ?? .null
        RunTime.addAttemptDetails(
            to: &item, scheduledAt: scheduledAt, startedAt: startedAt, finishedAt: finishedAt, late: late,
            childRunID: childRunID)
        return .object(item)
    }
}

/// The items of one `for_each` step: the latest attempt of each, in item order.
public struct StepItems: Sendable, Equatable {
    public var latest: [ItemAttempt]

    /// How many items have ended (succeeded, or failed after their retries).
    public var done: Int { latest.filter { $0.status.isFinished }.count }
    public var total: Int { latest.count }
}

/// A run with its trigger event and every step attempt, in the order they were scheduled.
public struct RunDetail: Sendable, Equatable {
    public var summary: RunSummary
    public var triggerEvent: JSONValue
    public var steps: [StepAttempt]
    /// The workflow's steps in the order they are listed, each with the steps it needs; empty when the workflow's
    /// definition is not known to the reader (the store keeps runs, not workflows).
    public var graph: [GraphStep]
    /// Every attempt of every item of the run's `for_each` steps, by step, item and attempt.
    public var items: [ItemAttempt]
    /// What the run returned (when it succeeded).
    public var output: JSONValue?
    /// The runs its sub-workflow steps started, oldest first.
    public var children: [RunSummary] = []
    /// The documents its `artifact` steps kept, in the order they were made.
    public var artifacts: [RunArtifact] = []

    /// One step of the run's workflow, the steps it needs, and what kind of step it is.
    public struct GraphStep: Sendable, Equatable {
        public var step: String
        public var needs: [String]
        /// `action`, `workflow` (a sub-workflow), or a built-in step's key (`decision`, `artifact`, `match`, …);
        /// nil when not known.
        public var kind: String?

        public init(step: String, needs: [String], kind: String? = nil) {
            self.step = step
            self.needs = needs
            self.kind = kind
        }

        /// `{"step", "needs", "kind"}`, as the run's and the workflow's `graph` list it.
        public var json: JSONValue {
            var json: JSONObject = ["step": .string(step), "needs": .array(needs.map(JSONValue.string))]
            if let kind { json["kind"] = .string(kind) }
            return .object(json)
        }
    }

    public init(
        summary: RunSummary, triggerEvent: JSONValue, steps: [StepAttempt], graph: [GraphStep] = [],
        items: [ItemAttempt] = []
    ) {
        self.summary = summary
        self.triggerEvent = triggerEvent
        self.steps = steps
        self.graph = graph
        self.items = items
    }

    /// The items of a `for_each` step (the latest attempt of each), or nil for a step without items.
    public func items(of step: String) -> StepItems? {
        var latest: [ItemAttempt] = []
        for item in items where item.stepID == step {
            if latest.last?.index == item.index { latest[latest.count - 1] = item } else { latest.append(item) }
        }
        return latest.isEmpty ? nil : StepItems(latest: latest)
    }

    /// The steps `step` needs, when the graph is known.
    public func needs(of step: String) -> [String]? { graph.first { $0.step == step }?.needs }

    /// How `relay runs show --json` shows it: with the graph known, each attempt carries its step's `needs`,
    /// `graph` lists every step (those never started included) with its needs, and `layout` says where to draw each
    /// (`RunGraphLayout`). The attempt of a `for_each` step carries its items: `items_done`, `items_total` and
    /// `items` (the latest attempt of each, in item order). `artifacts` lists the documents its `artifact` steps
    /// kept, with their content.
    public var json: JSONValue {
        var result = summary.json.objectValue ?? [:]
        result["trigger_event"] = triggerEvent
        result["output"] = output ?? .null
        result["children"] = .array(
            children.map {
                [
                    "id": .string($0.id), "workflow": .string($0.workflow), "status": .string($0.status.rawValue),
                    "parent_step": $0.parentStepID.map(JSONValue.string) ?? .null,
                ]
            })
        result["steps"] = .array(
            steps.map { attempt in
                var entry = attempt.json.objectValue ?? [:]
                if let needs = needs(of: attempt.stepID) { entry["needs"] = .array(needs.map(JSONValue.string)) }
                if let items = items(of: attempt.stepID) {
                    entry["items_done"] = .int(items.done)
                    entry["items_total"] = .int(items.total)
                    entry["items"] = .array(items.latest.map(\.json))
                }
                return .object(entry)
            })
        result["artifacts"] = .array(artifacts.map(\.json))
        if !graph.isEmpty {
            result["graph"] = .array(graph.map(\.json))
            result["layout"] = RunGraphLayout(graph: graph).json
        }
        return .object(result)
    }

    /// One line: `run 3f2a… triage succeeded in 41 ms (4 steps: 3 succeeded, 1 failed)`.
    public var line: String {
        var latest: [String: StepStatus] = [:]
        for step in steps { latest[step.stepID] = step.status }
        var counts: [String: Int] = [:]
        for status in latest.values { counts[status.rawValue, default: 0] += 1 }
        let detail = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let duration =
            summary.finishedAt.map { "\(RunTime.milliseconds($0 - summary.startedAt).intValue ?? 0) ms" } ?? "?"
        var line =
            "run \(summary.id) \(summary.workflow) \(summary.status.rawValue) in \(duration) "
            + "(\(latest.count) steps: \(detail))"
        if let error = summary.error { line += ": \(error)" }
        return line
    }
}

/// Times as the run store's readers show them.
public enum RunTime {
    /// ISO 8601 in UTC with milliseconds.
    public static func text(_ seconds: Double) -> String {
        ISO8601DateFormatter.string(
            from: Date(timeIntervalSince1970: seconds), timeZone: TimeZone(identifier: "UTC")!,
            formatOptions: [.withInternetDateTime, .withFractionalSeconds])
    }

    /// Seconds as whole milliseconds, or null where the stored times cannot give one (never a trap).
    public static func milliseconds(_ seconds: Double) -> JSONValue {
        let value = (seconds * 1000).rounded(.towardZero)
        return Int(exactly: value).map(JSONValue.int) ?? .null
    }

    public static func now() -> Double { Date().timeIntervalSince1970 }

    /// What an attempt (a step's or an item's) shows beside its values: `duration_ms` (null without both times), and
    /// when there are any, its `late_result` and the `child_run` it started.
    /// When the attempt was scheduled (its job published, or its retry planned), started and finished (ISO 8601,
    /// null while not yet), how long it ran, and a late result or the run it started.
    static func addAttemptDetails(
        to attempt: inout JSONObject, scheduledAt: Double, startedAt: Double?, finishedAt: Double?,
        late: LateResult?, childRunID: String?
    ) {
        attempt["scheduled"] = .string(text(scheduledAt))
        attempt["started"] = startedAt.map { .string(text($0)) } ?? .null
        attempt["finished"] = finishedAt.map { .string(text($0)) } ?? .null
        if let startedAt, let finishedAt {
            attempt["duration_ms"] = milliseconds(finishedAt - startedAt)
        } else {
            attempt["duration_ms"] = .null
        }
        if let late { attempt["late_result"] = late.json }
        if let childRunID { attempt["child_run"] = .string(childRunID) }
    }
}

/// A plugin's log as the run store keeps it: nothing for an empty log, and of a long one its end (where the failure
/// is), at most `limit` bytes, after a line that says how much was cut.
public enum StepLog {
    public static let limit = 64 * 1024

    public static func kept(_ log: String) -> String? {
        if log.isEmpty { return nil }
        let bytes = log.utf8.count
        if bytes <= limit { return log }
        // The end, from a character boundary.
        var start = log.utf8.index(log.utf8.endIndex, offsetBy: -limit)
        while start < log.utf8.endIndex, UTF8.isContinuation(log.utf8[start]) { start = log.utf8.index(after: start) }
        let tail = String(log[start...])
        return "[the first \(bytes - tail.utf8.count) bytes of this log are not kept]\n" + tail
    }
}
