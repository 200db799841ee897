import RelayCore

extension WorkflowTranslator {
    /// Translates one node, after every node with an edge into it. Returns its workflow entry (a step, or the
    /// comment that stands where a step was left out), or nil for what is not a step in Relay (the trigger, a
    /// decision, a join).
    func translateNode(_ node: String, scope: Scope, isStart: Bool) -> ImportedWorkflow.Entry? {
        guard let step = steps[node] else { return nil }
        if isStart {
            let paths = [Path(needs: [], conditions: [])]
            reach[node] = .paths(paths)
            if step.type == .trigger {
                outcomes[node] = .start
                return nil
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
            return .omitted(omission(node, reason))
        }
        guard paths.count <= ImportLimits.maximumPaths else {
            let reason = "reached in \(paths.count) ways through decisions and joins, too many to write as a condition"
            outcomes[node] = .blocking(reason)
            reach[node] = .blocked(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            return .omitted(omission(node, reason))
        }
        reach[node] = .paths(paths)
        return translateReached(node, step: step, scope: scope, paths: paths, partlyBlocked: blocked)
    }

    func translateReached(
        _ node: String, step: ICONStep, scope: Scope, paths: [Path], partlyBlocked: [String]
    ) -> ImportedWorkflow.Entry? {
        let partly = partlyBlocked.isEmpty ? [] : ["some ways into it are not translated: " + partlyBlocked[0]]
        switch step.type {
        case .trigger:
            // A second trigger node: nothing leads to it in a well-formed export.
            outcomes[node] = .start
            return nil
        case .action: return translateAction(node, step: step, scope: scope, paths: paths, extraGaps: partly)
        case .loop: return translateLoop(node, step: step, scope: scope, paths: paths, extraGaps: partly)
        case .automatedDecision:
            translateDecision(node, step: step, scope: scope, extraGaps: partly)
            return nil
        case .join:
            outcomes[node] = .merge
            let sets = step.parameters["variableSets"]?.arrayValue ?? []
            let names = sets.compactMap { $0["name"]?.stringValue }
            var gaps = partly
            if !names.isEmpty {
                gaps.append(
                    "its values (\(names.map { "\"\($0)\"" }.joined(separator: ", "))) are not translated: Relay has "
                        + "no join values yet; the steps that read them are reported")
            }
            record(
                node, scope: scope, status: gaps.isEmpty ? .translated : .partial,
                translation: "the needs of the step after it (it runs once, whichever way was taken)", reasons: gaps)
            return nil
        default:
            let (reason, blocks) = Self.unsupported(step)
            outcomes[node] = blocks ? .blocking(reason) : .leftOut(reason)
            record(node, scope: scope, status: .notTranslated, reasons: [reason])
            return .omitted(omission(node, reason))
        }
    }

    /// Why a step type is not translated in this slice, and whether the steps after it are cut off (it decides
    /// where the path goes) or follow the steps before it.
    static func unsupported(_ step: ICONStep) -> (reason: String, blocks: Bool) {
        switch step.type {
        case .artifact:
            return (
                "artifact steps (a rendered Markdown document kept with the run) need an artifact step kind, which "
                    + "Relay does not have yet",
                false
            )
        case .actionChatOps:
            return (
                "chat-ops actions (\(step.chatOpsAppName ?? "chat") \(step.chatOpsIdentifier ?? "")) are not "
                    + "translated yet: they need the chat plugin's spec and a mapping of its inputs",
                false
            )
        case .decisionChatOps:
            return (
                "chat-ops decisions wait for a person's answer; Relay has no human decision step yet, so the "
                    + "branches after it are not translated",
                true
            )
        case .patternMatch:
            return (
                "pattern match steps (named regex captures) need a match step kind, which Relay does not have yet",
                false
            )
        case .filter:
            return (
                "filter steps are not translated yet (a condition on the path after it), so the path after it is "
                    + "not translated",
                true
            )
        case .break:
            return ("break steps (leave the loop early) need a break step kind, which Relay does not have yet", true)
        case .helpers:
            return (
                "global artifact helpers (a named store, whose contents exports do not hold) are not translated yet",
                false
            )
        case .humanDecision:
            return ("human decisions wait for a person's answer; Relay has no human decision step yet", true)
        default:
            return ("the step type \"\(step.type)\" is not known to this importer", false)
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
            let expression: ICONExpression
            do {
                expression = try ICONExpression.decode(
                    branch["expression"] ?? [:], path: "stepControlParams[\(index)].expression")
            } catch {
                problems.append("the condition of \(label) cannot be read: \(error.description)")
                continue
            }
            switch translator.translate(expression) {
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
