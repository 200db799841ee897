import OrderedCollections
import RelayCore

extension WorkflowTranslator {
    /// Walks the nodes of one scope (the top level, or a loop's body) so that each comes after every node with an
    /// edge into it, depth first (a decision's first branch, then the next), and translates each. Returns the
    /// scope's workflow entries in that order.
    func translateScope(_ scope: Scope, start: String?) -> [ImportedWorkflow.Entry] {
        let level = scope.loop ?? ""
        let members = Set(export.workflow.parents.filter { $0.value == level }.map(\.key)).intersection(steps.keys)
        var pending: [String: Int] = [:]
        for node in members {
            pending[node] = (incoming[node] ?? []).filter { members.contains($0.from) }.count
        }
        var ready: [String]
        if let start, members.contains(start) {
            ready = [start]
        } else {
            // No known start: every node no edge of the scope leads to, in the file's order.
            ready = Array(steps.keys.filter { members.contains($0) && pending[$0] == 0 }.reversed())
        }
        var entries: [ImportedWorkflow.Entry] = []
        var done: Set<String> = []
        while let node = ready.popLast() {
            guard done.insert(node).inserted else { continue }
            entries += translateNode(node, scope: scope, isStart: node == start)
            for edge in orderedOutgoing(node).reversed() where members.contains(edge.to) {
                pending[edge.to, default: 0] -= 1
                if pending[edge.to] == 0 { ready.append(edge.to) }
            }
        }
        for node in steps.keys where members.contains(node) && !done.contains(node) {
            let place = scope.loop.map { "the start of loop \(name(of: $0))" } ?? "the trigger"
            let reason = "not reachable from \(place) (or on a cycle of edges)"
            outcomes[node] = .cutOff(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            entries.append(.omitted(omission(node, reason)))
        }
        return entries
    }

    /// A node's out-edges, a decision's in the order of its conditions (the default last).
    func orderedOutgoing(_ node: String) -> [ICONEdge] {
        let edges = outgoing[node] ?? []
        guard let step = steps[node], step.type == .automatedDecision,
            let branches = step.parameters["stepControlParams"]?.arrayValue
        else { return edges }
        let order = branches.compactMap { $0["edgeId"]?.stringValue }
        let defaultEdge = step.parameters["defaultEdgeId"]?.stringValue
        func rank(_ edge: ICONEdge) -> Int {
            if edge.id == defaultEdge { return Int.max }
            return order.firstIndex(of: edge.id) ?? Int.max - 1
        }
        return edges.sorted { rank($0) < rank($1) }
    }

    /// The ways into `node` from the nodes of its scope (`nil` reasons when every way is open).
    func incomingReach(_ node: String, scope: Scope) -> (paths: [Path], blocked: [String]) {
        let level = scope.loop ?? ""
        var paths: [Path] = []
        var blocked: [String] = []
        for edge in incoming[node] ?? [] where export.workflow.parents[edge.from] == level {
            switch through(edge) {
            case .paths(let more):
                for path in more where !paths.contains(path) { paths.append(path) }
            case .blocked(let reason): blocked.append(reason)
            }
        }
        return (paths, blocked)
    }

    /// The ways a step is reached along `edge`.
    func through(_ edge: ICONEdge) -> Reach {
        let from = edge.from
        switch outcomes[from] {
        case .start: return .paths([Path(needs: [], conditions: [])])
        case .step: return .paths([Path(needs: [id(from)], conditions: [])])
        case .branching(let branches):
            guard let conditions = branches[edge.id] else {
                return .blocked(
                    "the branch \(edge.name.isEmpty ? edge.id : edge.name) of \(name(of: from)) is none of its answers")
            }
            return .paths([Path(needs: [id(from)], conditions: conditions)])
        case .decision(let branches):
            guard case .paths(let paths) = reach[from] ?? .blocked("") else {
                return reach[from] ?? .blocked("after \(name(of: from)), which was not reached")
            }
            guard let conditions = branches[edge.id] else {
                return .blocked(
                    "the branch \(edge.name.isEmpty ? edge.id : edge.name) of \(name(of: from)) has no condition")
            }
            return .paths(paths.map { Path(needs: $0.needs, conditions: $0.conditions + conditions) })
        case .merge, .leftOut: return reach[from] ?? .blocked("after \(name(of: from)), which was not reached")
        case .blocking:
            return .blocked("comes after \(name(of: from)), which is not translated")
        case .cutOff(let reason): return .blocked(reason)
        case nil: return .blocked("comes after \(name(of: from)), which was not translated before it")
        }
    }

    /// `needs` and `when` of a step reached by `paths`. With one way in, the needs are that way's steps and the
    /// condition is the branch conditions on the way. With several (after a join), the step needs every way's
    /// steps (Relay skips it only when all were skipped); a condition is needed only when a way carries branch
    /// conditions: then it holds when some way was taken (its steps not all skipped and its conditions held).
    static func needsAndWhen(_ paths: [Path]) -> (needs: [String], when: RelayCondition?) {
        if paths.count == 1 { return (paths[0].needs, RelayCondition.all(paths[0].conditions)) }
        var needs: OrderedSet<String> = []
        for path in paths { needs.formUnion(path.needs) }
        guard paths.contains(where: { !$0.conditions.isEmpty }) else { return (Array(needs), nil) }
        var terms: [RelayCondition] = []
        for path in paths {
            let ran = RelayCondition.any(path.needs.map(notSkipped))
            guard let term = RelayCondition.all((ran.map { [$0] } ?? []) + path.conditions) else {
                // A way with neither steps nor conditions: the step is always reached.
                return (Array(needs), nil)
            }
            terms.append(term)
        }
        return (Array(needs), RelayCondition.any(terms))
    }

    static func notSkipped(_ step: String) -> RelayCondition {
        .comparison(.reference("steps.\(step).status"), "!=", .literal("skipped"))
    }

    /// The comment written where a step was left out.
    func omission(_ node: String, _ reason: String) -> String {
        "Not imported: \(name(of: node)): \(reason)"
    }

    /// Records a node's report.
    func record(
        _ node: String, scope: Scope, status: StepStatus, id: String? = nil, translation: String? = nil,
        reasons: [String] = [], notes: [String] = []
    ) {
        guard let step = steps[node], step.type != .trigger else { return }
        if reports[node] == nil { order.append(node) }
        var unique: [String] = []
        for reason in reasons where !unique.contains(reason) { unique.append(reason) }
        reports[node] = StepReport(
            nodeID: node, name: step.name, type: step.type.description, status: status, id: id,
            workflow: scope.workflow, translation: translation, reasons: unique, notes: notes)
    }
}
