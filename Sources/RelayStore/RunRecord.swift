import RelayCore

/// A run as the dispatcher reads it inside a transaction: which workflow version it runs, where it stands, and
/// the step of another run that started it (a sub-workflow's run).
public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var workflow: String
    /// The hash of the workflow version the run started with; nil for a run recorded before versions were kept.
    public var version: String?
    public var status: RunStatus
    public var parent: RunParent?
    /// How long the run may run, in seconds (its workflow's `timeout`, or for a sub-workflow's run the calling
    /// step's when shorter); nil: no limit.
    public var timeout: Double?
    /// When the run started (Unix time, the dispatcher's clock); nil when the store does not say.
    public var startedAt: Double?

    public init(
        id: String, workflow: String, version: String?, status: RunStatus, parent: RunParent? = nil,
        timeout: Double? = nil, startedAt: Double? = nil
    ) {
        self.id = id
        self.workflow = workflow
        self.version = version
        self.status = status
        self.parent = parent
        self.timeout = timeout
        self.startedAt = startedAt
    }
}

/// The step attempt (or item attempt of a `for_each` step) of a parent run that a sub-workflow's run stands for:
/// when the child ends, its result is that attempt's result.
public struct RunParent: Sendable, Equatable {
    public var runID: String
    public var stepID: String
    /// The attempt's job id (`runId/stepId/attempt`, or `runId/stepId[index]/attempt` for an item).
    public var jobID: String

    public init(runID: String, stepID: String, jobID: String) {
        self.runID = runID
        self.stepID = stepID
        self.jobID = jobID
    }
}

/// A run to create.
public struct NewRun: Sendable {
    public var id: String
    public var workflow: String
    /// The workflow version's hash (recorded with `recordWorkflowVersion` in the same transaction).
    public var version: String?
    /// The event that starts it: a trigger's, or the input of a parent's step for a sub-workflow.
    public var event: TriggerEvent
    public var parent: RunParent?
    /// How long it may run, in seconds; nil: no limit.
    public var timeout: Double?
    /// When it started, in seconds since 1970; nil: when the transaction that creates it does (a run decided outside
    /// the transaction, `RunStore.newRunSpeculation`, has its time set then).
    public var startedAt: Double?

    public init(
        id: String, workflow: String, version: String?, event: TriggerEvent, parent: RunParent? = nil,
        timeout: Double? = nil
    ) {
        self.id = id
        self.workflow = workflow
        self.version = version
        self.event = event
        self.parent = parent
        self.timeout = timeout
    }
}

/// A workflow version as the run store keeps it: the text it was read from and the file it came from.
public struct StoredWorkflowVersion: Sendable, Equatable {
    public var hash: String
    public var name: String
    public var file: String
    public var source: String

    public init(hash: String, name: String, file: String, source: String) {
        self.hash = hash
        self.name = name
        self.file = file
        self.source = source
    }
}
