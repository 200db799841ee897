import RelayCore

extension WorkflowTranslator {
    /// Translates one node, after every node with an edge into it. Returns its workflow entries: its step (a
    /// chat-ops decision's chat message and decision), or the comment that stands where a step was left out; none
    /// for what is not a step in Relay (the trigger, an automated decision, a join without values).
    func translateNode(_ node: String, scope: Scope, isStart: Bool) -> [ImportedWorkflow.Entry] {
        guard let step = steps[node] else { return [] }
        if isStart {
            let paths = [Path(needs: [], conditions: [])]
            reach[node] = .paths(paths)
            if step.type == .trigger {
                outcomes[node] = .start
                return []
            }
            // A loop body's first step: reached when the iteration starts.
            return translateReached(node, step: step, scope: scope, paths: paths, partlyBlocked: [])
        }
        let (paths, blocked) = incomingReach(node, scope: scope)
        guard !paths.isEmpty else {
            let reason = blocked.first ?? "no edge leads to it"
            outcomes[node] = .cutOff(reason)
            reach[node] = .blocked(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            return [.omitted(omission(node, reason))]
        }
        guard paths.count <= ImportLimits.maximumPaths else {
            let reason = "reached in \(paths.count) ways through decisions and joins, too many to write as a condition"
            outcomes[node] = .blocking(reason)
            reach[node] = .blocked(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            return [.omitted(omission(node, reason))]
        }
        reach[node] = .paths(paths)
        return translateReached(node, step: step, scope: scope, paths: paths, partlyBlocked: blocked)
    }

    func translateReached(
        _ node: String, step: ICONStep, scope: Scope, paths: [Path], partlyBlocked: [String]
    ) -> [ImportedWorkflow.Entry] {
        let partly = partlyBlocked.isEmpty ? [] : ["some ways into it are not translated: " + partlyBlocked[0]]
        let reached = Reached(node: node, step: step, scope: scope, paths: paths, gaps: partly)
        switch step.type {
        case .trigger:
            // A second trigger node: nothing leads to it in a well-formed export.
            outcomes[node] = .start
            return []
        case .action: return [translateAction(node, step: step, scope: scope, paths: paths, extraGaps: partly)]
        case .loop: return [translateLoop(node, step: step, scope: scope, paths: paths, extraGaps: partly)]
        case .automatedDecision:
            translateDecision(node, step: step, scope: scope, extraGaps: partly)
            return []
        case .join:
            if let step = translateJoin(reached) { return [step] }
            // No value translated (or none to translate): the ways in pass on to the step after it.
            outcomes[node] = .merge
            let gaps = partly + joinGapReasons(node)
            record(
                node, scope: scope, status: gaps.isEmpty ? .translated : .partial,
                translation: "the needs of the step after it (it runs once, whichever way was taken)", reasons: gaps)
            return []
        case .artifact: return [translateArtifact(reached)]
        case .patternMatch: return [translateMatch(reached)]
        case .filter: return [translateFilter(reached)]
        case .break: return [translateBreak(reached)]
        case .helpers: return [translateGlobalArtifact(reached)]
        case .actionChatOps: return [translateChatAction(reached)]
        case .decisionChatOps: return translateChatDecision(reached)
        case .humanDecision: return [translateHumanDecision(reached)]
        case .other(let type):
            let reason = "the step type \"\(type)\" is not known to this importer"
            outcomes[node] = .leftOut(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            return [.omitted(omission(node, reason))]
        }
    }

    /// Every ICON step carries `continueOnFailure`; in Relay it is `continue_on_failure`.
    func common(_ node: String, step: ICONStep, paths: [Path]) -> ImportedStep {
        var imported = ImportedStep(id: id(node))
        let (needs, when) = Self.needsAndWhen(paths)
        imported.needs = needs
        imported.when = when?.description
        imported.continueOnFailure = step.continueOnFailure
        imported.comments = ["\(step.name) (\(step.type))"]
        return imported
    }

    func leaveOut(_ node: String, scope: Scope, reasons: [String], notes: [String] = []) -> ImportedWorkflow.Entry {
        let reason = reasons.joined(separator: "; ")
        outcomes[node] = .leftOut(reason)
        record(node, scope: scope, status: .notTranslated, reasons: reasons, notes: notes)
        return .omitted(omission(node, reason))
    }

    func translateDecision(_ node: String, step: ICONStep, scope: Scope, extraGaps: [String]) {
        guard !step.isDisabled else {
            let reason = "disabled in the export"
            outcomes[node] = .blocking(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            return
        }
        let branches = step.parameters["stepControlParams"]?.arrayValue ?? []
        let defaultEdge = step.parameters["defaultEdgeId"]?.stringValue
        var conditions: [(edge: String, condition: RelayCondition)] = []
        var problems: [String] = []
        var translator = conditionTranslator(in: scope)
        outputReads = []
        for (index, branch) in branches.enumerated() {
            guard let edge = branch["edgeId"]?.stringValue else {
                problems.append("branch \(index + 1) names no edge")
                continue
            }
            if edge == defaultEdge { continue }
            let label =
                export.workflow.edges[edge].map { $0.name.isEmpty ? "branch \(index + 1)" : "\"\($0.name)\"" }
                ?? "branch \(index + 1)"
            switch Self.condition(
                branch["expression"] ?? [:], path: "stepControlParams[\(index)].expression", translator: &translator)
            {
            case .success(let condition): conditions.append((edge, condition))
            case .failure(let gap): problems.append("the condition of \(label): \(gap.reason)")
            }
        }
        if defaultEdge == nil { problems.append("it has no default branch (defaultEdgeId)") }
        // What Relay would refuse (its limits on a condition's length and nesting, a regex it cannot compile) is a
        // gap here, not a file `relay up` refuses: the longest text is the default branch's, every condition negated.
        if problems.isEmpty, let longest = RelayCondition.all(conditions.map { .negation($0.condition) }) {
            do {
                _ = try Condition(longest.description)
                for (_, condition) in conditions { _ = try Condition(condition.description) }
            } catch {
                problems.append("the translated condition is one Relay refuses: \(error.message)")
            }
        }
        guard problems.isEmpty else {
            let reason = problems.joined(separator: "; ")
            outcomes[node] = .blocking(reason)
            record(node, scope: scope, status: .notTranslated, reasons: problems)
            return
        }
        // First condition that holds wins: branch i holds when its condition does and none before it did; the
        // default when none did.
        var map: [String: [RelayCondition]] = [:]
        var earlier: [RelayCondition] = []
        for (edge, condition) in conditions {
            map[edge] = earlier + [condition]
            earlier.append(.negation(condition))
        }
        if let defaultEdge { map[defaultEdge] = earlier }
        outcomes[node] = .decision(map)
        let gaps = extraGaps + outputReads
        record(
            node, scope: scope, status: gaps.isEmpty ? .translated : .partial,
            translation: "when: on the first step of each branch", reasons: gaps, notes: translator.notes)
    }
}

/// A node reached by the walk: its step, the scope it is in, the ways into it, and the gaps it has already (some
/// ways into it are not translated).
struct Reached {
    var node: String
    var step: ICONStep
    var scope: Scope
    var paths: [Path]
    var gaps: [String]
}

extension WorkflowTranslator {
    /// Reads and translates a condition as InsightConnect stores it (the AST).
    static func condition(_ json: JSONValue, path: String, translator: inout ConditionTranslator)
        -> Result<RelayCondition, TranslationGap>
    {
        let expression: ICONExpression
        do {
            expression = try ICONExpression.decode(json, path: path)
        } catch {
            return .failure(TranslationGap("cannot be read: \(error.description)"))
        }
        return translator.translate(expression)
    }

    /// A step of a kind the dispatcher decides, written with its `needs` and `when`, and recorded.
    func finish(
        _ reached: Reached, kind: ImportedStepKind, gaps: [String] = [], notes: [String] = [], translation: String,
        outcome: NodeOutcome = .step
    ) -> ImportedWorkflow.Entry {
        var imported = common(reached.node, step: reached.step, paths: reached.paths)
        imported.kind = kind
        outcomes[reached.node] = outcome
        let all = reached.gaps + gaps
        record(
            reached.node, scope: reached.scope, status: all.isEmpty ? .translated : .partial, id: imported.id,
            translation: "step \(imported.id): \(translation)", reasons: all, notes: notes)
        return .step(imported)
    }

    /// Leaves a step out. `blocks`: it decides where the path goes, so the steps after it are cut off too.
    func leaveOut(_ reached: Reached, _ reasons: [String], blocks: Bool = false, notes: [String] = [])
        -> ImportedWorkflow.Entry
    {
        guard blocks else { return leaveOut(reached.node, scope: reached.scope, reasons: reasons, notes: notes) }
        let reason = reasons.joined(separator: "; ")
        outcomes[reached.node] = .blocking(reason)
        record(reached.node, scope: reached.scope, status: .notTranslated, reasons: reasons, notes: notes)
        return .omitted(omission(reached.node, reason))
    }

    /// Why a disabled step is left out.
    static let disabledReason =
        "disabled in the export (InsightConnect skips it); the steps after it follow the steps before it"
}
