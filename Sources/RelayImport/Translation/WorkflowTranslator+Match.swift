import RelayCore

extension WorkflowTranslator {
    /// A pattern match: `match: {text, pattern, ignore_case, all}`, one named group per variable. Reads of its
    /// outputs become `steps.<id>.output.matched` (`$matched`) and `steps.<id>.output.<group>` (a variable).
    func translateMatch(_ reached: Reached) -> ImportedWorkflow.Entry {
        let parameters = reached.step.parameters
        if reached.step.isDisabled { return leaveOut(reached, [Self.disabledReason]) }
        let ignoreCase = parameters["ignoreCase"]?.boolValue ?? false
        let pattern: ICONPattern
        switch ICONPattern.build(parameters["expressions"]?.arrayValue ?? [], ignoreCase: ignoreCase) {
        case .success(let built): pattern = built
        case .failure(let gap): return leaveOut(reached, ["its pattern: " + gap.reason])
        }
        guard case .string(let input) = parameters["input"] ?? .null else {
            return leaveOut(reached, ["it has no input text to match"])
        }
        outputReads = []
        let text: String
        switch translateText(input, in: reached.scope) {
        case .success(let translated): text = translated
        case .failure(let problems): return leaveOut(reached, problems.all.map(\.reason))
        }
        matchGroups[reached.node] = Dictionary(uniqueKeysWithValues: pattern.groups.map { ($0.key, $0.value) })
        var notes: [String] = []
        for (ident, group) in pattern.groups where ident != group {
            notes.append(
                "the variable \"\(ident)\" is the group \(group) (an ICU group name is letters and digits); the steps "
                    + "that read it read output.\(group)")
        }
        let all = parameters["captureAll"]?.boolValue ?? false
        return finish(
            reached, kind: .match(text: text, pattern: pattern.pattern, ignoreCase: ignoreCase, all: all),
            gaps: outputReads, notes: notes, translation: "match")
    }
}
