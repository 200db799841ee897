import RelayCore

/// What a reference reads.
enum ReferenceTarget: Hashable {
    /// The trigger's event.
    case trigger
    /// A step's output (a loop's: the array of its iterations' outputs).
    case output(String)
    /// A step's status.
    case status(String)
    /// Whether a step's latest attempt succeeded (`steps.ID.success`, InsightConnect's `$success`).
    case success(String)
    /// A field of the run (`run.id`, InsightConnect's `[$job].[id]`).
    case run(String)
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
        case .output(let node) where isMember(node, of: scope), .status(let node) where isMember(node, of: scope),
            .success(let node) where isMember(node, of: scope):
            switch outcomes[node] {
            case .step, .branching:
                switch target {
                case .status: return .success(RelayReference(root: "steps.\(id(node)).status"))
                case .success: return .success(RelayReference(root: "steps.\(id(node)).success"))
                default: return .success(RelayReference(root: "steps.\(id(node)).output"))
                }
            case .leftOut(let reason), .blocking(let reason), .cutOff(let reason):
                return .failure(
                    TranslationGap("reads \(name(of: node)), which is not translated (\(reason))"))
            case .decision:
                return .failure(
                    TranslationGap(
                        "reads the path that decision \(name(of: node)) took; an automated decision is no step in "
                            + "Relay (its branches become conditions), so that path is no value"))
            case .merge:
                return .failure(
                    TranslationGap(
                        "reads a value of join \(name(of: node)), which has no value translated (it is no step in "
                            + "Relay)"))
            case .start, nil:
                return .failure(TranslationGap("reads \(name(of: node)), which does not come before it"))
            }
        default: break
        }
        guard let parent = scope.parent else {
            switch target {
            case .trigger: return .success(trigger.base)
            case .run(let field): return .success(RelayReference(root: "run", segments: [field]))
            case .variable(let name):
                variablesUsed.append(name)
                return .success(.variable(name))
            case .item(let loop):
                return .failure(TranslationGap("reads the item of loop \(name(of: loop)) from outside its body"))
            case .output(let node), .status(let node), .success(let node):
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
        case .success(let node): keys = ["outer", "\(id(node))_success"]
        case .run(let field): keys = ["outer", "run_\(field)"]
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
        case .job(let path):
            guard path == ["id"] else {
                return .failure(
                    TranslationGap(
                        "{{[$job].[\(path.joined(separator: "].["))]}}: Relay has run.id and run.workflow, no run URL "
                            + "yet "
                            + "(relay runs show RUN_ID shows the run)"))
            }
            return base(.run("id"), in: scope).map(\.description)
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
                return base(.success(node), in: scope).map { $0.appending(rest).description }
            default:
                if first.hasPrefix("$"), !(step.type == .patternMatch && first == "$matched") {
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
            let fields: [String]
            switch outputPath(step, path) {
            case .success(let mapped): fields = mapped
            case .failure(let gap): return .failure(gap)
            }
            let resolved = base(.output(node), in: scope).map { $0.appending(fields).description }
            if case .success = resolved, let field = path.first { checkOutputField(step, field) }
            return resolved
        }
    }

    /// Notes a read of an output field that the current spec of the step's action does not declare (and that the
    /// step's own output schema in the export does not either: a script's outputs are its own). Such a read fails
    /// at run time if the plugin no longer returns the field.
    func checkOutputField(_ step: ICONStep, _ field: String) {
        guard let (plugin, action) = pluginAction(step), case .success(let loaded) = specs.spec(plugin.slug),
            let properties = loaded.schemas["actions"]?[action]?["output"]?["properties"]?.objectValue,
            !properties.isEmpty, properties[field] == nil,
            step.outputSchema?["properties"]?[field] == nil
        else { return }
        outputReads.append(
            "reads output \"\(field)\" of \(name(of: step.nodeID)), which \(plugin.slug) \(loaded.spec.version ?? "") "
                + "(the spec in --specs) does not declare for \(action) (built with \(plugin.version))")
        missingOutputs.append(MissingOutput(plugin: plugin.slug, action: action, field: field))
    }

    /// The plugin action a step runs as: an action's own, or the chat plugin's that a chat-ops action became.
    func pluginAction(_ step: ICONStep) -> (ICONPluginReference, String)? {
        switch step.type {
        case .action:
            guard let plugin = step.plugin, let action = step.identifier else { return nil }
            return (plugin, action)
        case .actionChatOps: return chatActions[step.nodeID]
        default: return nil
        }
    }

    /// Where an InsightConnect read of `path` of a step's output is in its Relay step's output: the same for
    /// actions; the kinds the dispatcher decides name their fields in Relay's way (a pattern match's `$matched` is
    /// `matched`, a chat-ops decision's `path` is `option`).
    func outputPath(_ step: ICONStep, _ path: [String]) -> Result<[String], TranslationGap> {
        guard let first = path.first else { return .success([]) }
        let rest = mapSegments(Array(path.dropFirst()))
        let field: String?
        switch step.type {
        case .artifact: field = first == "content" ? "content" : nil
        case .patternMatch: field = first == "$matched" ? "matched" : matchGroups[step.nodeID]?[first]
        case .helpers: field = first == "found" && step.helperIdentifier == "lookup_global_artifacts" ? "found" : nil
        case .decisionChatOps, .humanDecision:
            field = ["path": "option", "responding_user": "answered_by"][first]
            if field == nil {
                return .failure(
                    TranslationGap(
                        "reads \"\(first)\" of \(name(of: step.nodeID)), a field of the chat message it posted; "
                            + "Relay's decision step has option, answered_by, answered_at and timed_out"))
            }
        case .filter, .break: field = nil
        case .join:
            if let reason = joinGaps[step.nodeID]?[first] {
                return .failure(
                    TranslationGap(
                        "reads the value \"\(first)\" of join \(name(of: step.nodeID)), which is not translated "
                            + "(\(reason))"
                    ))
            }
            field = joinValues[step.nodeID]?.contains(first) == true ? first : nil
        default: return .success(mapSegments(path))
        }
        guard let field else {
            return .failure(
                TranslationGap(
                    "reads \"\(first)\" of \(name(of: step.nodeID)), which has no such output in Relay "
                        + "(\(Self.outputs(of: step)))"
                ))
        }
        return .success([field] + rest)
    }

    /// What a kind's output holds, for messages.
    static func outputs(of step: ICONStep) -> String {
        switch step.type {
        case .artifact: "an artifact's output is its content"
        case .patternMatch: "a pattern match's outputs are $matched and its variables"
        case .helpers: "a global artifact lookup's output is found"
        case .join: "a join's outputs are its values"
        default: "it has no outputs"
        }
    }

    /// Path segments with node ids (the keys of a loop's `$outputs` elements) turned into step ids.
    func mapSegments(_ segments: [String]) -> [String] {
        segments.map { steps[$0] != nil ? id($0) : $0 }
    }

    /// Translates every template of a value as seen from `scope`.
    func translateValue(_ value: JSONValue, in scope: Scope) -> Result<JSONValue, TranslationGaps> {
        ICONTemplate.translate(value: value, resolver: templateResolver(in: scope))
    }

    /// Translates a text (an artifact's content, a decision's question) as seen from `scope`.
    func translateText(_ text: String, in scope: Scope) -> Result<String, TranslationGaps> {
        ICONTemplate.translate(text, resolver: templateResolver(in: scope))
    }

    /// References seen from `scope`; inside `{{#each [loop].[$outputs]}}`, a node of the loop's body is the key
    /// of its step id in the element (the body's workflow outputs every step's output by id).
    func templateResolver(in scope: Scope) -> TemplateResolver {
        TemplateResolver(
            nodes: nodes, resolve: { self.resolve($0, in: scope) },
            loopOutput: { node, path, loop in
                guard self.export.workflow.parents[node] == loop, let step = self.steps[node] else { return nil }
                switch self.outcomes[node] {
                case .step, .branching: return self.outputPath(step, path).map { [self.id(node)] + $0 }
                case .leftOut(let reason), .blocking(let reason), .cutOff(let reason):
                    return .failure(
                        TranslationGap("reads \(self.name(of: node)), which is not translated (\(reason))"))
                default:
                    return .failure(TranslationGap("reads \(self.name(of: node)), which is not a step of its loop"))
                }
            },
            leavesEarly: { loop in self.hasBreak(loop) })
    }

    /// Whether the body of `loop` has a translated `break`: the loop may then leave early, and Relay's loop step
    /// outputs null for each item not run.
    func hasBreak(_ loop: String) -> Bool {
        steps.values.contains { step in
            guard step.type == .break, export.workflow.parents[step.nodeID] == loop else { return false }
            if case .step = outcomes[step.nodeID] { return true }
            return false
        }
    }

    /// A condition translator whose references are seen from `scope`.
    func conditionTranslator(in scope: Scope) -> ConditionTranslator {
        ConditionTranslator(
            nodes: nodes, resolve: { self.resolve($0, in: scope) },
            status: { node in self.base(.status(node), in: scope).map(\.description) })
    }
}
