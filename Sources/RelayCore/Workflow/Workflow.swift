/// A workflow: one trigger, then steps that run actions. The steps form a graph through their `needs` (by default
/// each step needs the one listed before it, so a workflow without `needs` is a straight line). Each step's input
/// is a template over the trigger's event, the outputs of the steps before it in the graph and the workflow's
/// `vars`.
public struct Workflow: Sendable, Equatable {
    public var name: String
    public var version: Int
    /// What starts its runs; nil for a workflow that runs only as another's sub-workflow (a step with
    /// `workflow:`), whose trigger event is that step's input.
    public var trigger: TriggerBinding?
    public var steps: [WorkflowStep]
    /// `output:`, a template over the trigger, the steps and the vars: what a run returns when it succeeds (a
    /// sub-workflow's step output). Without it, the output of the last step listed.
    public var output: JSONValue?
    /// `vars:`, the workflow's variables by name, with their values (any JSON): what `{{ vars.NAME }}` (or
    /// `{{ vars["Channel Name"] }}`) reads in its steps' inputs, conditions, `for_each`, `output` and trigger input.
    public var vars: JSONObject = [:]
    /// `timeout:`, the run's deadline from its start (nil: none). Past it the run fails and nothing new starts.
    public var timeout: Duration?
    /// Where it was read from, for messages.
    public var file: String
    /// The text it was read from: what a run keeps of its workflow (stored once per version, by its hash), so
    /// that the run goes on with the definition it started with whatever happens to the file.
    public var source: String

    public init(
        name: String, version: Int = 1, trigger: TriggerBinding?, steps: [WorkflowStep], file: String = "",
        source: String = ""
    ) {
        self.name = name
        self.version = version
        self.trigger = trigger
        self.steps = steps
        self.file = file
        self.source = source
    }

    public func step(_ id: String) -> WorkflowStep? { steps.first { $0.id == id } }
    public func index(of id: String) -> Int? { steps.firstIndex { $0.id == id } }
}

/// Which trigger starts the workflow.
public struct TriggerBinding: Sendable, Equatable {
    public var plugin: String
    /// The trigger's name, or the task's when `isTask`.
    public var trigger: String
    public var connection: String?
    public var input: JSONValue
    /// A spec task run on a schedule instead of a trigger: each item of its output is one event.
    public var isTask: Bool
    /// For tasks: how often (`every`), or a cron expression (`schedule`).
    public var every: Duration?
    public var schedule: String?

    public init(
        plugin: String, trigger: String, connection: String? = nil, input: JSONValue = [:], isTask: Bool = false,
        every: Duration? = nil, schedule: String? = nil
    ) {
        self.plugin = plugin
        self.trigger = trigger
        self.connection = connection
        self.input = input
        self.isTask = isTask
        self.every = every
        self.schedule = schedule
    }

    /// The trigger instance this binding runs: workflows with the same plugin, trigger, connection and input share
    /// one instance and each of its events starts a run of each of them.
    public var instanceID: String {
        "\(plugin).\(trigger)#"
            + String(
                StableHash.fnv1a(
                    JSONWriter.compact.string(
                        ["connection": connection.map(JSONValue.string) ?? .null, "input": input])), radix: 16)
    }
}

/// One step of a workflow.
public struct WorkflowStep: Sendable, Equatable {
    public var id: String
    public var plugin: String
    public var action: String
    public var connection: String?
    /// A template (see `Template`).
    public var input: JSONValue
    public var continueOnFailure: Bool
    public var retry: RetryPolicy
    public var timeout: Duration
    /// Run the step only when this condition holds (see `Condition`); a skipped step is recorded as such.
    public var when: Condition?
    /// The steps that must have ended before this one starts, as written (`needs: [a, b]`); nil when the step has
    /// no `needs` key and needs the step listed before it (see `Workflow.needs(at:)`).
    public var needs: [String]?
    /// `for_each`: a template (one reference) that renders to an array; the step then runs once per item, its
    /// input seeing `{{ item }}` and `{{ index }}`, and its output is the array of the items' outputs.
    public var forEach: String?
    /// How many items of a `for_each` step run at once.
    public var concurrency: Int
    /// Whether `timeout` was written (a sub-workflow step's child is limited by it only then).
    public var hasTimeout: Bool = false
    /// `workflow: NAME`: the step runs a run of that workflow (a sub-workflow) with its input as the child's trigger
    /// event, and its output is the child run's output. `plugin` and `action` are empty then.
    public var workflow: String?
    /// A step the dispatcher decides itself (`artifact`, `match`, `filter`, `break`, `decision`,
    /// `global_artifact`, `join`); `plugin` and `action` are empty then.
    public var builtin: BuiltinStep?

    public init(
        id: String, plugin: String, action: String, connection: String? = nil, input: JSONValue = [:],
        continueOnFailure: Bool = false, retry: RetryPolicy = RetryPolicy(), timeout: Duration = .seconds(60),
        when: Condition? = nil, needs: [String]? = nil, forEach: String? = nil, concurrency: Int = 10
    ) {
        self.id = id
        self.plugin = plugin
        self.action = action
        self.connection = connection
        self.input = input
        self.continueOnFailure = continueOnFailure
        self.retry = retry
        self.timeout = timeout
        self.when = when
        self.needs = needs
        self.forEach = forEach
        self.concurrency = concurrency
    }
}

extension WorkflowStep {
    /// The limit a sub-workflow step puts on its child run: its `timeout` when written, else none (the child's own
    /// `timeout` applies).
    public var workflowTimeout: Duration? { hasTimeout ? timeout : nil }

    /// Whether the step is a `filter` (a skipped filter stops its path: the steps after it are skipped).
    public var isFilter: Bool {
        if case .filter = builtin { return true }
        return false
    }
}

/// How often a failing step is tried, and how long to wait between tries (doubling each time, capped).
public struct RetryPolicy: Sendable, Equatable {
    /// Tries in all, the first included (1 = no retry).
    public var attempts: Int
    public var backoff: Duration
    public var maxBackoff: Duration

    public init(attempts: Int = 1, backoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(300)) {
        self.attempts = attempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
    }

    /// The wait before try number `attempt + 1` (after try `attempt` failed). Doubling stops at `maxBackoff`, so
    /// no number of attempts overflows.
    public func delay(after attempt: Int) -> Duration {
        var delay = backoff
        var doublings = max(0, attempt - 1)
        while doublings > 0 && delay < maxBackoff {
            delay = delay < maxBackoff / 2 ? delay * 2 : maxBackoff
            doublings -= 1
        }
        return min(delay, maxBackoff)
    }
}

/// FNV-1a, for ids that must be the same in every process.
public enum StableHash {
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
