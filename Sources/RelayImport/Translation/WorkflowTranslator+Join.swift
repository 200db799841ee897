import OrderedCollections
import RelayCore

extension WorkflowTranslator {
    /// A join. Without values (`variableSets`) it is no step: the ways into it pass on to the step after it. With
    /// values it is a `join:` step whose values are keyed by need: each edge into the join (a key of a value's
    /// `variables`) becomes the need on that edge's path, which Relay finds not skipped when that path was taken.
    ///
    /// An edge from a step (an action, a loop, another join with values…) is that step: it ran only when its path
    /// was taken. An edge straight from a decision's branch has no step of its own: its need is the step before the
    /// decision, which also ran when another branch was taken, so it is listed after the needs of their own (Relay
    /// takes the first need written that was not skipped: a branch's own step wins when its branch was taken, the
    /// step before the decision when none was). A value that paths without a step of their own would give
    /// differently (two branches of one decision, or two decisions) cannot be told apart that way: it is left out,
    /// and the steps that read it are reported.
    func translateJoin(_ reached: Reached) -> ImportedWorkflow.Entry? {
        let sets = reached.step.parameters["variableSets"]?.arrayValue ?? []
        guard !sets.isEmpty else { return nil }
        outputReads = []
        var values: JSONObject = [:]
        var gaps: [String] = []
        var notes: [String] = []
        for (index, set) in sets.enumerated() {
            guard let name = set["name"]?.stringValue, !name.isEmpty else {
                gaps.append("its value \(index + 1) has no name")
                continue
            }
            switch joinValue(set["variables"]?.objectValue ?? [:], in: reached) {
            case .success(let (value, note)):
                values[name] = .object(value)
                notes += note.map { "\"\(name)\": \($0)" }.map { [$0] } ?? []
            case .failure(let gap): joinGaps[reached.node, default: [:]][name] = gap.reason
            }
        }
        gaps += joinGapReasons(reached.node)
        guard !values.isEmpty else { return nil }
        joinValues[reached.node] = Set(values.keys)
        return finish(
            reached, kind: .join(values), gaps: gaps + outputReads, notes: notes,
            translation: "join (its values by the need whose path was taken)")
    }

    /// Why each value of a join left out is.
    func joinGapReasons(_ node: String) -> [String] {
        (joinGaps[node] ?? [:]).sorted { $0.key < $1.key }.map { name, reason in
            "its value \"\(name)\" is not translated: \(reason); the steps that read it are reported"
        }
    }

    /// One value: need → translated template, the needs of their own first (in the order of the edges), then the
    /// one need shared with other paths, if any.
    private func joinValue(_ variables: JSONObject, in reached: Reached) -> Result<
        (JSONObject, String?), TranslationGap
    > {
        guard !variables.isEmpty else { return .failure(TranslationGap("it gives no template for any path")) }
        var own: JSONObject = [:]
        var shared: JSONObject = [:]
        var sharedEdges: [String] = []
        for (edgeID, template) in variables {
            guard let edge = export.workflow.edges[edgeID], edge.to == reached.node else {
                return .failure(TranslationGap("its edge \(edgeID) does not lead to the join"))
            }
            let value: JSONValue
            switch translateValue(template, in: reached.scope) {
            case .success(let translated): value = translated
            case .failure(let problems):
                return .failure(TranslationGap(problems.all.map(\.reason).joined(separator: "; ")))
            }
            let label = edge.name.isEmpty ? "from \(name(of: edge.from))" : "\"\(edge.name)\""
            if case .step = outcomes[edge.from] {
                let need = id(edge.from)
                if let earlier = own[need], earlier != value {
                    return .failure(TranslationGap("two paths from \(name(of: edge.from)) give it differently"))
                }
                own[need] = value
                continue
            }
            // No step of its own on this edge (a decision's branch, a left-out step): the step before it.
            guard case .paths(let paths) = through(edge) else {
                return .failure(TranslationGap("the path \(label) is not translated"))
            }
            let needs = OrderedSet(paths.flatMap(\.needs))
            guard needs.count == 1, let need = needs.first else {
                return .failure(
                    TranslationGap(
                        "the path \(label) has \(needs.isEmpty ? "no step before it" : "several steps before it"), so "
                            + "Relay cannot tell when it was taken"))
            }
            if let earlier = shared[need] ?? own[need], earlier != value {
                return .failure(
                    TranslationGap(
                        "the path \(label) and another come after the same step \(need) (branches of one decision) "
                            + "and give it differently; Relay's join takes a value by the need whose path was taken"))
            }
            shared[need] = value
            sharedEdges.append(label)
        }
        let sharedNeeds = shared.keys.filter { own[$0] == nil }
        guard sharedNeeds.count <= 1 else {
            return .failure(
                TranslationGap(
                    "its paths \(sharedEdges.joined(separator: ", ")) have no step of their own and come after "
                        + "different steps (\(sharedNeeds.joined(separator: ", "))); Relay cannot tell which was taken")
            )
        }
        var value = own
        var note: String?
        if let need = sharedNeeds.first, let template = shared[need] {
            value[need] = template
            note =
                "the path \(sharedEdges.joined(separator: ", ")) has no step of its own: its template is under "
                + "\(need), the step before it, listed last (taken when no other path's step ran)"
        }
        return .success((value, note))
    }
}
