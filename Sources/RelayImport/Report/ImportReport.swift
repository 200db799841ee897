/// What `relay workflow import` did: per workflow, per step and per plugin, what was translated and what was not,
/// and why. Written as `import-report.md`, and as JSON with `--json`.
public struct ImportReport: Sendable {
    public var workflows: [WorkflowReport] = []
    public var plugins: [PluginReport] = []
    /// Files that could not be read at all.
    public var failures: [FileFailure] = []

    public init() {}

    /// Workflows all of whose steps and trigger were translated with no gap.
    public var completeWorkflows: Int { workflows.filter(\.isComplete).count }
    public var totalSteps: Int { workflows.reduce(0) { $0 + $1.steps.count } }
    public func steps(_ status: StepStatus) -> Int {
        workflows.reduce(0) { $0 + $1.steps.filter { $0.status == status }.count }
    }
}

/// An export that could not be read.
public struct FileFailure: Sendable, Equatable {
    public var file: String
    public var message: String
}

/// One export.
public struct WorkflowReport: Sendable {
    /// The export file.
    public var file: String
    /// Its name in InsightConnect.
    public var name: String
    /// The Relay workflow written for it, and the sub-workflows of its loops.
    public var relayName: String
    public var workflowFiles: [String] = []
    public var trigger: TriggerReport
    public var steps: [StepReport] = []
    /// What is missing from the workflow as a whole (besides its steps').
    public var gaps: [String] = []
    /// What a reader should know but needs no action (variables to fill in, versions).
    public var notes: [String] = []
    /// Plugins it uses whose spec is not in `--specs`.
    public var pluginsWithoutSpec: [String] = []

    /// Every step translated without a gap, the trigger translated, no gap in the workflow.
    public var isComplete: Bool {
        trigger.gap == nil && gaps.isEmpty && steps.allSatisfy { $0.status == .translated }
    }
}

/// The workflow's trigger.
public struct TriggerReport: Sendable {
    /// The export's trigger type (`trigger_plugin`, `trigger_api_idr` …) and its name.
    public var type: String
    public var name: String
    /// What it became (`webhook at /webhooks/x`, `timer cron 0 5 * * *`, `microsoft_teams new_message_received`).
    public var translation: String?
    /// Why it was not translated, or what is missing.
    public var gap: String?
    public var notes: [String] = []
}

public enum StepStatus: String, Sendable, Equatable {
    /// In the Relay workflow as in the export.
    case translated
    /// In the Relay workflow, with something missing (named in `gaps`).
    case partial
    /// Left out, for the reason given.
    case notTranslated = "not_translated"
}

/// One step of an export.
public struct StepReport: Sendable {
    public var nodeID: String
    public var name: String
    public var type: String
    public var status: StepStatus
    /// Its Relay step id, when it is a Relay step (decisions and joins become conditions and needs, not steps).
    public var id: String?
    /// The Relay workflow it is in (a loop's body is a sub-workflow).
    public var workflow: String?
    /// What it became, in a few words (`step`, `when: on the steps of its branches`, `needs of the steps after it`).
    public var translation: String?
    /// Why it was left out (`notTranslated`) or what is missing (`partial`).
    public var reasons: [String] = []
    public var notes: [String] = []
}

/// One plugin the exports use.
public struct PluginReport: Sendable {
    public var name: String
    /// The versions the workflows were built with.
    public var usedVersions: [String]
    /// The spec found in `--specs`, and its version.
    public var specPath: String?
    public var specVersion: String?
    /// Why there is no usable spec.
    public var specProblem: String?
    /// The actions and triggers used, with how many steps use each.
    public var components: [String: Int] = [:]
    public var workflows: [String] = []
    /// What differs between the versions used and the spec that matters to the workflows.
    public var differences: [String] = []
    /// Files written for it (`plugins/x.yaml`, `connections/x.yaml`).
    public var files: [String] = []
    /// Whether its steps need a connection (connectionType CONNECTION).
    public var needsConnection = false
}
