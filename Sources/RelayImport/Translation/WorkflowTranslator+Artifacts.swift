import RelayCore

extension WorkflowTranslator {
    /// An artifact: `artifact: {name: <step name>, format, content}`, its content a text template.
    func translateArtifact(_ reached: Reached) -> ImportedWorkflow.Entry {
        let step = reached.step
        if step.isDisabled { return leaveOut(reached, [Self.disabledReason]) }
        guard case .string(let source) = step.input["content"] ?? .null else {
            return leaveOut(reached, ["its content is not text"])
        }
        let format = step.parameters["type"]?.stringValue ?? "markdown"
        guard ["markdown", "html", "text"].contains(format) else {
            return leaveOut(reached, ["its format \"\(format)\" is none of Relay's (markdown, html, text)"])
        }
        outputReads = []
        switch translateText(source, in: reached.scope) {
        case .failure(let problems): return leaveOut(reached, problems.all.map(\.reason))
        case .success(let content):
            return finish(
                reached, kind: .artifact(name: step.name, format: format, content: content), gaps: outputReads,
                translation: "artifact")
        }
    }

    /// A global artifact helper: `lookup_global_artifacts` (`'field' = {{ref}}`, and `and`s of such) becomes
    /// `global_artifact: {name, lookup: {field: "{{ ref }}"}}`, `append_global_artifacts` (its input)
    /// `global_artifact: {name, append: {…}}`.
    func translateGlobalArtifact(_ reached: Reached) -> ImportedWorkflow.Entry {
        let step = reached.step
        if step.isDisabled { return leaveOut(reached, [Self.disabledReason]) }
        let helper = step.helperIdentifier ?? "(none)"
        guard let name = step.globalArtifact?["name"]?.stringValue, !name.isEmpty else {
            return leaveOut(reached, ["the helper \(helper) names no global artifact"])
        }
        let fields =
            (step.globalArtifact?["schema"]?["definitions"]?["_ROOT_"]?["properties"]?.objectValue?.keys)
            .map { Array($0) } ?? []
        let notes = [
            "the global artifact \"\(name)\" starts empty in Relay: exports hold no entries"
                + (fields.isEmpty ? "" : " (its entries have \(fields.joined(separator: ", ")))")
                + "; only global_artifact append steps fill it (relay artifacts show NAME lists it)"
        ]
        outputReads = []
        let operation: ImportedStepKind.GlobalArtifactOperation
        let value: JSONValue
        switch helper {
        case "lookup_global_artifacts":
            switch lookupFields(step.parameters["expression"] ?? [:], scope: reached.scope) {
            case .success(let object): value = .object(object)
            case .failure(let gap): return leaveOut(reached, ["its lookup: " + gap.reason], notes: notes)
            }
            operation = .lookup
        case "append_global_artifacts":
            switch translateValue(step.input, in: reached.scope) {
            case .success(let input) where input.objectValue != nil: value = input
            case .success(let input):
                return leaveOut(reached, ["it appends \(input.typeName), not an object"], notes: notes)
            case .failure(let problems): return leaveOut(reached, problems.all.map(\.reason), notes: notes)
            }
            operation = .append
        default:
            return leaveOut(
                reached,
                [
                    "the global artifact helper \"\(helper)\" is not translated (Relay's global_artifact steps look up "
                        + "and append)"
                ])
        }
        return finish(
            reached, kind: .globalArtifact(name: name, operation: operation, value: value), gaps: outputReads,
            notes: notes, translation: "global_artifact \(operation.rawValue)")
    }

    /// A lookup's expression as Relay's `lookup:` fields: `'field' = {{ref}}` (either way round), or an `and` of
    /// such.
    func lookupFields(_ json: JSONValue, scope: Scope) -> Result<JSONObject, TranslationGap> {
        let expression: ICONExpression
        do {
            expression = try ICONExpression.decode(json, path: "expression")
        } catch {
            return .failure(TranslationGap("cannot be read: \(error.description)"))
        }
        var fields = JSONObject()
        var pending = [expression]
        while let next = pending.popLast() {
            guard case .binary(let op, let left, let right) = next else {
                return .failure(TranslationGap("expected 'field' = {{value}}, found another form"))
            }
            if ["and", "&&"].contains(op.lowercased()) {
                pending += [right, left]
                continue
            }
            guard op == "=" || op == "==" else {
                return .failure(TranslationGap("the operator \(op) (Relay's lookup matches fields by equality)"))
            }
            let pair: (String, ICONExpression)
            switch (left, right) {
            case (.literal(.string(let field)), let other), (let other, .literal(.string(let field))):
                pair = (field, other)
            default: return .failure(TranslationGap("expected a field name in quotes on one side of ="))
            }
            switch pair.1 {
            case .variable(let variable):
                switch resolve(ICONReference.parse(variable: variable, nodes: nodes), in: scope) {
                case .success(let reference): fields[pair.0] = .string("{{ \(reference) }}")
                case .failure(let gap): return .failure(gap)
                }
            case .literal(let literal): fields[pair.0] = literal
            default: return .failure(TranslationGap("the value of \"\(pair.0)\" is neither a reference nor a literal"))
            }
        }
        return .success(fields)
    }
}
