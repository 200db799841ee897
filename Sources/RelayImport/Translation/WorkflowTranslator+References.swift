import RelayCore

/// What a reference reads.
enum ReferenceTarget: Hashable {
    /// The trigger's event.
    case trigger
    /// A step's output (a loop's: the array of its iterations' outputs).
    case output(String)
    /// A step's status.
    case status(String)
    /// The current item of a loop.
    case item(String)
    /// A workflow variable.
    case variable(String)
}

extension WorkflowTranslator {
    /// The Relay reference of `target` as seen from `scope`. A loop's body reads what lies outside it from its
    /// trigger event, which the loop step fills: `event` (the parent's trigger event), `vars`, and `outer` (steps
    /// of enclosing scopes and the items of enclosing loops); each such read adds what the loop step must pass.
    func base(_ target: ReferenceTarget, in scope: Scope) -> Result<RelayReference, TranslationGap> {
        switch target {
        case .item(let loop) where scope.loop == loop:
            return .success(RelayReference(root: "trigger", segments: ["item"]))
        case .output(let node) where isMember(node, of: scope), .status(let node) where isMember(node, of: scope):
            switch outcomes[node] {
            case .step:
                if case .status = target { return .success(RelayReference(root: "steps.\(id(node)).status")) }
                return .success(RelayReference(root: "steps.\(id(node)).output"))
            case .leftOut(let reason), .blocking(let reason), .cutOff(let reason):
                return .failure(
                    TranslationGap("reads \(name(of: node)), which is not translated (\(reason))"))
            case .decision:
                return .failure(
                    TranslationGap(
                        "reads the path that decision \(name(of: node)) took; Relay has no decision step yet (its "
                            + "branches become conditions)"))
            case .merge:
                return .failure(
                    TranslationGap("reads a value of join \(name(of: node)); Relay has no join values yet"))
            case .start, nil:
                return .failure(TranslationGap("reads \(name(of: node)), which does not come before it"))
            }
        default: break
        }
        guard let parent = scope.parent else {
            switch target {
            case .trigger: return .success(trigger.base)
            case .variable(let name):
                variablesUsed.append(name)
                return .success(.variable(name))
            case .item(let loop):
                return .failure(TranslationGap("reads the item of loop \(name(of: loop)) from outside its body"))
            case .output(let node), .status(let node):
                let container = export.workflow.parents[node].flatMap { $0.isEmpty ? nil : $0 }
                return .failure(
                    TranslationGap(
                        "reads \(name(of: node))"
                            + (container.map { " inside loop \(name(of: $0))" } ?? "") + " from outside its loop"))
            }
        }
        let keys: [String]
        switch target {
        case .trigger: keys = ["event"]
        case .variable(let name): keys = ["vars", name]
        case .output(let node): keys = ["outer", id(node)]
        case .status(let node): keys = ["outer", "\(id(node))_status"]
        case .item(let loop): keys = ["outer", "\(id(loop))_item"]
        }
        if scope.imports[keys] == nil {
            switch base(target, in: parent) {
            case .success(let outside): scope.imports[keys] = outside.description
            case .failure(let gap): return .failure(gap)
            }
        }
        return .success(RelayReference(root: "trigger", segments: keys))
    }

    func isMember(_ node: String, of scope: Scope) -> Bool {
        export.workflow.parents[node] == (scope.loop ?? "")
    }

    /// A template's or expression's reference, as Relay text (`steps.x.output.a`).
    func resolve(_ reference: ICONReference, in scope: Scope) -> Result<String, TranslationGap> {
        switch reference {
        case .unsupported(let reason): return .failure(TranslationGap(reason))
        case .job:
            return .failure(
                TranslationGap("{{[$job].[…]}} (the run's id and links): Relay templates have no run reference yet"))
        case .variable(let name, let path):
            return base(.variable(name), in: scope).map { $0.appending(path).description }
        case .node(let node, let path):
            guard let step = steps[node] else {
                return .failure(TranslationGap("reads node \(node), which has no step in the export"))
            }
            if let broken = path.firstIndex(of: "undefined") {
                return .failure(
                    TranslationGap(
                        "reads \(name(of: node)) at a broken path (segment \(broken + 1) is \"undefined\" in the "
                            + "export)"
                    ))
            }
            if step.type == .trigger {
                return base(.trigger, in: scope).map { $0.appending(mapSegments(path)).description }
            }
            let first = path.first ?? ""
            let rest = mapSegments(Array(path.dropFirst()))
            switch first {
            case "$item":
                guard step.type == .loop else {
                    return .failure(TranslationGap("reads $item of \(name(of: node)), which is not a loop"))
                }
                return base(.item(node), in: scope).map { $0.appending(rest).description }
            case "$outputs":
                guard step.type == .loop else {
                    return .failure(TranslationGap("reads $outputs of \(name(of: node)), which is not a loop"))
                }
                outputsRead.insert(node)
                return base(.output(node), in: scope).map { $0.appending(rest).description }
            case "$success":
                return .failure(
                    TranslationGap(
                        "uses [step].[$success] of \(name(of: node)) as a value; Relay has steps.ID.status (a "
                            + "string), not a boolean, outside conditions"))
            default:
                if first.hasPrefix("$") {
                    return .failure(
                        TranslationGap("reads \(first) of \(name(of: node)), which Relay has no equivalent of yet"))
                }
            }
            if step.type == .loop {
                return .failure(
                    TranslationGap(
                        "reads the custom output \"\(first)\" of loop \(name(of: node)) (values collected per "
                            + "iteration), which Relay has no equivalent of yet"))
            }
            let resolved = base(.output(node), in: scope).map { $0.appending(mapSegments(path)).description }
            if case .success = resolved, let field = path.first { checkOutputField(step, field) }
            return resolved
        }
    }

    /// Notes a read of an output field that the action's current spec does not declare (and that the step's own
    /// output schema in the export does not either: a script's outputs are its own). Such a read fails at run
    /// time if the plugin no longer returns the field.
    func checkOutputField(_ step: ICONStep, _ field: String) {
        guard step.type == .action, let plugin = step.plugin, let action = step.identifier,
            case .success(let loaded) = specs.spec(plugin.slug),
            let properties = loaded.schemas["actions"]?[action]?["output"]?["properties"]?.objectValue,
            !properties.isEmpty, properties[field] == nil,
            step.outputSchema?["properties"]?[field] == nil
        else { return }
        outputReads.append(
            "reads output \"\(field)\" of \(name(of: step.nodeID)), which \(plugin.slug) \(loaded.spec.version ?? "") "
                + "(the spec in --specs) does not declare for \(action) (built with \(plugin.version))")
        missingOutputs.append(MissingOutput(plugin: plugin.slug, action: action, field: field))
    }

    /// Path segments with node ids (the keys of a loop's `$outputs` elements) turned into step ids.
    func mapSegments(_ segments: [String]) -> [String] {
        segments.map { steps[$0] != nil ? id($0) : $0 }
    }

    /// Translates every template of a value as seen from `scope`.
    func translateValue(_ value: JSONValue, in scope: Scope) -> Result<JSONValue, TranslationGaps> {
        ICONTemplate.translate(value: value, nodes: nodes) { self.resolve($0, in: scope) }
    }

    /// A condition translator whose references are seen from `scope`.
    func conditionTranslator(in scope: Scope) -> ConditionTranslator {
        ConditionTranslator(
            nodes: nodes, resolve: { self.resolve($0, in: scope) },
            status: { node in self.base(.status(node), in: scope).map(\.description) })
    }
}
