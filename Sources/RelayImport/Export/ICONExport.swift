import OrderedCollections
import RelayCore

/// One InsightConnect workflow export (an `.icon` file, `komFileVersion` 2.0.0): the workflow's graph of steps and
/// its trigger, as far as the importer reads them. Everything else of a step stays in `parameters`, read by the
/// translation of its type.
public struct ICONExport: Sendable {
    /// Where it was read from, for messages.
    public var file: String
    /// The InsightConnect release that exported it (`kom.komandVersion`).
    public var komandVersion: String?
    public var workflow: ICONWorkflow
    public var trigger: ICONTrigger
}

/// `kom.workflowVersions[0]`.
public struct ICONWorkflow: Sendable {
    public var name: String
    public var description: String
    /// `parameters.definitionSchema.properties`: the workflow's variables (`{{$workflow.[Name]}}`). Exports hold
    /// their names, types and descriptions, never their values.
    public var variables: [ICONVariable]
    /// Every node of `graph.nodes`: its id → the loop that contains it ("" at top level).
    public var parents: [String: String]
    /// `graph.edges` in the file's order.
    public var edges: OrderedDictionary<String, ICONEdge>
    /// `steps` in the file's order, the trigger's node among them.
    public var steps: OrderedDictionary<String, ICONStep>
}

/// A workflow variable.
public struct ICONVariable: Sendable, Equatable {
    public var name: String
    public var type: String?
    public var description: String?
}

/// An edge of the graph: `to` needs `from`; `to` is empty where the path ends.
public struct ICONEdge: Sendable, Equatable {
    public var id: String
    /// The label of a decision's branch ("Yes"), else empty.
    public var name: String
    public var from: String
    public var to: String
    /// The loop both ends are in, or the loop itself for its inner edge; "" at top level.
    public var parent: String
}

/// `kom.triggers[0]`.
public struct ICONTrigger: Sendable {
    public var id: String
    public var name: String
    /// `trigger_plugin`, `trigger_chatops`, `trigger_api`, `trigger_api_idr`, `trigger_api_vm_webhook`.
    public var type: String
    public var identifier: String?
    public var plugin: ICONPluginReference?
    public var input: JSONValue
    /// The chat-ops app of a `trigger_chatops` (`slack`).
    public var chatOpsAppName: String?
}

/// The plugin of an action or trigger: `rapid7/<slug>` at `version`.
public struct ICONPluginReference: Sendable, Equatable, Hashable {
    public var title: String
    public var vendor: String
    public var slug: String
    public var version: String
}

/// A node of the graph: the trigger's node or a step.
public struct ICONStep: Sendable {
    public var nodeID: String
    public var name: String
    public var type: ICONStepType
    public var plugin: ICONPluginReference?
    /// The action (or trigger) of `plugin`.
    public var identifier: String?
    public var continueOnFailure: Bool
    public var isDisabled: Bool
    /// `CONNECTION`, `ORCHESTRATOR` or `NONE`.
    public var connectionType: String
    /// The step's `parameters` (an object; `{}` when absent).
    public var parameters: JSONValue
    /// `outputJSONSchema`: the output schema InsightConnect recorded for this step when it differs from the
    /// action's (a script's own outputs); nil when absent or null.
    public var outputSchema: JSONValue?
    /// For chat-ops steps: the app (`slack`) and its action.
    public var chatOpsAppName: String?
    public var chatOpsIdentifier: String?
    /// For `helpers` steps: what it does (`lookup_global_artifacts`, `append_global_artifacts`) and the global
    /// artifact (`{name, id, schema}`).
    public var helperIdentifier: String?
    public var globalArtifact: JSONValue?

    /// `parameters.input`, `{}` when absent.
    public var input: JSONValue { parameters["input"] ?? [:] }
}

/// A step's `type`; types this importer does not know keep their name.
public enum ICONStepType: Sendable, Equatable, Hashable, CustomStringConvertible {
    case trigger, action, loop, automatedDecision, join, artifact, actionChatOps, decisionChatOps, patternMatch
    case filter, `break`, helpers, humanDecision
    case other(String)

    public init(_ raw: String) {
        switch raw {
        case "trigger": self = .trigger
        case "action": self = .action
        case "loop": self = .loop
        case "automated_decision": self = .automatedDecision
        case "join": self = .join
        case "artifact": self = .artifact
        case "action_chatops": self = .actionChatOps
        case "decision_chatops": self = .decisionChatOps
        case "pattern_match": self = .patternMatch
        case "filter": self = .filter
        case "break": self = .break
        case "helpers": self = .helpers
        case "human_decision": self = .humanDecision
        default: self = .other(raw)
        }
    }

    /// The name the export uses.
    public var description: String {
        switch self {
        case .trigger: "trigger"
        case .action: "action"
        case .loop: "loop"
        case .automatedDecision: "automated_decision"
        case .join: "join"
        case .artifact: "artifact"
        case .actionChatOps: "action_chatops"
        case .decisionChatOps: "decision_chatops"
        case .patternMatch: "pattern_match"
        case .filter: "filter"
        case .break: "break"
        case .helpers: "helpers"
        case .humanDecision: "human_decision"
        case .other(let raw): raw
        }
    }
}
