import Foundation
import OrderedCollections
import RelayCore

/// Translates one export into Relay workflows: the workflow itself and one sub-workflow per loop (its body), with
/// a report of every step. The graph is walked once per scope (the top level, each loop's body) in an order where
/// every step comes after the steps it needs; decisions and joins are not Relay steps but become `when` and
/// `needs` of the steps they lead to (a join with values is a `join:` step).
final class WorkflowTranslator {
    let export: ICONExport
    let specs: SpecCatalog
    /// The Relay workflow's name.
    let name: String
    let nodes: Set<String>
    var steps: OrderedDictionary<String, ICONStep> { export.workflow.steps }

    var outgoing: [String: [ICONEdge]] = [:]
    var incoming: [String: [ICONEdge]] = [:]

    /// Node id → Relay step id, given on first use (the walk's order, so the first of two steps with the same name
    /// keeps the plain id).
    var ids: [String: String] = [:]
    var usedIDs: Set<String> = []
    var outcomes: [String: NodeOutcome] = [:]
    /// The ways into each node that has been walked.
    var reach: [String: Reach] = [:]
    var reports: [String: StepReport] = [:]
    /// The order steps were reported in (the walk's).
    var order: [String] = []
    /// Sub-workflows (loop bodies), in the order they were finished; a loop's index here.
    var subWorkflows: [ImportedWorkflow] = []
    var loopWorkflows: [String: Int] = [:]
    /// Loops whose `$outputs` something reads: their body's workflow gets an `output:` of every step.
    var outputsRead: Set<String> = []
    var variablesUsed: OrderedSet<String> = []
    var uses: [PluginUse] = []
    var trigger: TriggerTranslation!
    /// Output fields read that the current spec of the step's action does not declare, gathered while one step's
    /// templates are translated (see `checkOutputField`).
    var outputReads: [String] = []
    var missingOutputs: [MissingOutput] = []
    var workflowGaps: [String] = []
    var workflowNotes: [String] = []
    /// A pattern match's variables → its group names in the Relay pattern (they differ where an ident is not an
    /// ICU group name).
    var matchGroups: [String: [String: String]] = [:]
    /// A join step's values (a join with values is a `join:` step), and why each value left out is.
    var joinValues: [String: Set<String>] = [:]
    var joinGaps: [String: [String: String]] = [:]
    /// The chat plugin's action a chat-ops action became.
    var chatActions: [String: (ICONPluginReference, String)] = [:]

    init(export: ICONExport, specs: SpecCatalog, name: String) {
        self.export = export
        self.specs = specs
        self.name = name
        self.nodes = Set(export.workflow.steps.keys).union(export.workflow.parents.keys)
        for edge in export.workflow.edges.values {
            outgoing[edge.from, default: []].append(edge)
            if !edge.to.isEmpty { incoming[edge.to, default: []].append(edge) }
        }
    }

    /// The workflows (the main one first) and the report.
    func translate() -> WorkflowTranslation {
        trigger = translateTrigger()
        let top = Scope(loop: nil, parent: nil, workflow: name, depth: 0)
        let triggerNodes = steps.values.filter { $0.type == .trigger }.map(\.nodeID)
        if triggerNodes.count != 1 {
            workflowGaps.append(
                "the export has \(triggerNodes.count) trigger nodes (expected 1); the walk starts at the steps no "
                    + "edge leads to")
        }
        let entries = translateScope(top, start: triggerNodes.count == 1 ? triggerNodes[0] : nil)
        var main = ImportedWorkflow(
            name: name, description: export.workflow.description.isEmpty ? nil : export.workflow.description)
        main.trigger = trigger.binding
        main.entries = entries
        main.variables = workflowVariables()
        finishLoopOutputs()
        return WorkflowTranslation(
            workflows: [main] + subWorkflows, report: report(main: main), uses: uses, missingOutputs: missingOutputs)
    }

    /// The declared variables, and any used but not declared.
    func workflowVariables() -> [ICONVariable] {
        var variables = export.workflow.variables
        for used in variablesUsed where !variables.contains(where: { $0.name == used }) {
            variables.append(ICONVariable(name: used, type: nil, description: nil))
            workflowNotes.append("the variable \"\(used)\" is used but not declared in the export")
        }
        return variables
    }

    /// A loop body's workflow lists every step's output when something reads the loop's `$outputs`.
    func finishLoopOutputs() {
        for loop in outputsRead.sorted() {
            guard let index = loopWorkflows[loop] else { continue }
            var output = JSONObject()
            for step in subWorkflows[index].steps { output[step.id] = .string("{{ steps.\(step.id).output }}") }
            subWorkflows[index].output = .object(output)
        }
    }

    /// The Relay step id of a node.
    func id(_ node: String) -> String {
        if let known = ids[node] { return known }
        let candidate = freshID(Self.slug(steps[node]?.name ?? node, separator: "_", fallback: "step", limit: 48))
        ids[node] = candidate
        return candidate
    }

    /// `Block Host (Palo Alto)` → `block_host_palo_alto` (or with `-`): lowercase letters and digits, other runs
    /// become one separator; a leading digit gets a prefix, so that it is a valid Relay id.
    static func slug(_ text: String, separator: Character, fallback: String, limit: Int = 64) -> String {
        var out = ""
        var pendingSeparator = false
        for scalar in text.lowercased().unicodeScalars {
            if (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") {
                if pendingSeparator, !out.isEmpty { out.append(separator) }
                pendingSeparator = false
                out.unicodeScalars.append(scalar)
            } else {
                pendingSeparator = true
            }
        }
        if out.count > limit {
            // Cut at the last separator within the limit, so that no word is cut in two.
            let head = out.prefix(limit)
            out = String(head.lastIndex(of: separator).map { head[..<$0] } ?? head)
        }
        if out.isEmpty { return fallback }
        if let first = out.first, first.isNumber { out = "\(fallback)\(separator)\(out)" }
        return out
    }

    func name(of node: String) -> String {
        guard let step = steps[node] else { return node }
        return "\"\(step.name)\" (\(step.type))"
    }
}

/// What one export became.
struct WorkflowTranslation {
    var workflows: [ImportedWorkflow]
    var report: WorkflowReport
    var uses: [PluginUse]
    var missingOutputs: [MissingOutput] = []
}

/// An output field a workflow reads that the current spec of the action does not declare.
struct MissingOutput: Hashable {
    var plugin: String
    var action: String
    var field: String
}

/// A step's (or the trigger's) use of a plugin, for the plugin report.
struct PluginUse {
    enum Kind { case action, trigger }
    var plugin: ICONPluginReference
    var component: String
    var kind: Kind
    var workflow: String
    var step: String
    var needsConnection: Bool
    /// Inputs dropped because the spec no longer has them; required inputs the step lacks.
    var goneInputs: [String] = []
    var missingRequired: [String] = []
    var filledDefaults: [String] = []
    var componentMissing = false
}

/// What became of a node.
enum NodeOutcome {
    /// Where a scope starts: the trigger, or a loop body's first step.
    case start
    /// A Relay step (`ids[node]`).
    case step
    /// A Relay step that decides where the path goes (a `decision:`): each out-edge's conditions on its output.
    case branching([String: [RelayCondition]])
    /// A decision: each out-edge's conditions (all must hold; none for a default that is the only branch).
    case decision([String: [RelayCondition]])
    /// A join: the ways in pass on to the step after it.
    case merge
    /// Left out; the steps after it follow the steps before it.
    case leftOut(String)
    /// Left out, and the steps after it cannot be reached (it decided where the path goes).
    case blocking(String)
    /// Left out because no way reaches it (it comes after a `blocking` step); the steps after it are cut off for
    /// the same reason, which names the step that cut them off.
    case cutOff(String)
}

/// One way into a step: the steps it comes after, and the branch conditions taken on the way.
struct Path: Equatable {
    var needs: [String]
    var conditions: [RelayCondition]
}

enum Reach {
    case paths([Path])
    case blocked(String)
}

/// A workflow being written: the top level or a loop's body.
final class Scope {
    let loop: String?
    let parent: Scope?
    let workflow: String
    let depth: Int
    /// What a body reads from outside it: its key path in the child's trigger event → the parent's reference.
    var imports: OrderedDictionary<[String], String> = [:]

    init(loop: String?, parent: Scope?, workflow: String, depth: Int) {
        self.loop = loop
        self.parent = parent
        self.workflow = workflow
        self.depth = depth
    }
}
