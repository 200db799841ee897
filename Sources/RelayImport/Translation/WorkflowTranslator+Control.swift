import RelayCore

extension WorkflowTranslator {
    /// A filter: `filter: <condition>`; the steps after it need it, so that they are skipped when it does not hold.
    /// `stopOnMatch: true` stops the path when the condition holds (the corpus's "Filter Sites" stops on the sites
    /// without Deep Security): the filter is then its negation.
    func translateFilter(_ reached: Reached) -> ImportedWorkflow.Entry {
        let step = reached.step
        if step.isDisabled { return leaveOut(reached, [Self.disabledReason]) }
        var notes: [String] = []
        switch controlCondition(reached) {
        case .failure(let gap): return leaveOut(reached, [gap.reason], blocks: true)
        case .success(let translated):
            var condition = translated.condition ?? .literal(true)
            notes += translated.notes
            if step.parameters["stopOnMatch"]?.boolValue == true {
                condition = .negation(condition)
                notes.append("stopOnMatch: the path stops when the condition holds, so the filter is its negation")
            }
            if let refused = Self.refusal(condition) { return leaveOut(reached, [refused], blocks: true) }
            return finish(
                reached, kind: .filter(condition.description), gaps: translated.gaps, notes: notes,
                translation: "filter")
        }
    }

    /// A break: `break: true`, or the condition under which the loop is left.
    func translateBreak(_ reached: Reached) -> ImportedWorkflow.Entry {
        if reached.step.isDisabled { return leaveOut(reached, [Self.disabledReason]) }
        switch controlCondition(reached) {
        case .failure(let gap): return leaveOut(reached, [gap.reason], blocks: true)
        case .success(let translated):
            if let condition = translated.condition, let refused = Self.refusal(condition) {
                return leaveOut(reached, [refused], blocks: true)
            }
            var notes = translated.notes
            if export.workflow.parents[reached.node] ?? "" == "" {
                notes.append("it is not inside a loop: when it breaks, the run ends (succeeded)")
            }
            return finish(
                reached, kind: .break(translated.condition?.description), gaps: translated.gaps, notes: notes,
                translation: "break")
        }
    }

    /// The condition of a filter or break (`parameters.stepControlParam.expression`); nil when it always holds (no
    /// condition, `true`, or two equal literals compared such as the corpus's `"true" = "true"`).
    func controlCondition(_ reached: Reached) -> Result<
        (condition: RelayCondition?, gaps: [String], notes: [String]), TranslationGap
    > {
        let expression = reached.step.parameters["stepControlParam"]?["expression"] ?? [:]
        if expression.objectValue?.isEmpty ?? false { return .success((nil, [], [])) }
        var translator = conditionTranslator(in: reached.scope)
        outputReads = []
        switch Self.condition(expression, path: "stepControlParam.expression", translator: &translator) {
        case .failure(let gap): return .failure(TranslationGap("its condition: \(gap.reason)"))
        case .success(let condition):
            switch condition {
            case .literal(.bool(true)): return .success((nil, outputReads, translator.notes))
            case .comparison(.literal(let left), "==", .literal(let right)) where left == right:
                return .success(
                    (nil, outputReads, translator.notes + ["its condition compares two equal literals: always true"]))
            default: return .success((condition, outputReads, translator.notes))
            }
        }
    }

    /// Why Relay would refuse a condition (its limits on length and nesting), or nil.
    static func refusal(_ condition: RelayCondition) -> String? {
        do {
            _ = try Condition(condition.description)
            return nil
        } catch {
            return "the translated condition is one Relay refuses: \(error.message)"
        }
    }
}
