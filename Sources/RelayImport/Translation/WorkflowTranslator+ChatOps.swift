import RelayCore

extension WorkflowTranslator {
    /// A chat-ops action: the chat plugin's own action when its spec is in `--specs`; else left out like a
    /// disabled step (the steps after it need the steps before it), and the steps that read its output say so.
    func translateChatAction(_ reached: Reached) -> ImportedWorkflow.Entry {
        let step = reached.step
        if step.isDisabled { return leaveOut(reached, [Self.disabledReason]) }
        let app = ChatOpsApp.of(name: step.chatOpsAppName, identifier: step.chatOpsIdentifier)
        guard case .success(let loaded) = specs.spec(app.plugin) else {
            return leaveOut(
                reached,
                [
                    "no spec for \(app.plugin) in --specs: the chat message (\(step.chatOpsAppName ?? "chat") "
                        + "\(step.chatOpsIdentifier ?? "")) is not sent; left out like a disabled step (the steps "
                        + "after it follow the steps before it)"
                ])
        }
        let plugin = ICONPluginReference(
            title: app.plugin, vendor: "rapid7", slug: app.plugin, version: loaded.spec.version ?? "")
        var action = step
        action.type = .action
        action.plugin = plugin
        action.identifier = app.action
        action.parameters = ["input": app.input(step.input)]
        action.connectionType = loaded.spec.connection.isEmpty ? "NONE" : "CONNECTION"
        chatActions[reached.node] = (plugin, app.action)
        var entry = translateAction(
            reached.node, step: action, scope: reached.scope, paths: reached.paths,
            extraGaps: reached.gaps + app.missing.map { "input \"\($0)\" is not in a chat-ops step: fill it in" })
        if case .step(var imported) = entry {
            imported.comments += app.missing.map { "input \($0): fill it in (a chat-ops step has no value for it)" }
            entry = .step(imported)
            reports[reached.node]?.notes.append(
                "posted with \(app.plugin) \(app.action), the chat-ops app's message in Relay")
        }
        return entry
    }

    /// A chat-ops decision: a `decision:` step (the message and question, the answers as options, the timeout and
    /// the answer it takes then), the first step of each answer's branch getting
    /// `when: steps.<id>.output.option == "<answer>"`. Before it, the chat plugin's step that posts the question,
    /// when its spec is in `--specs`; else the run waits for `relay runs answer` (a gap).
    func translateChatDecision(_ reached: Reached) -> [ImportedWorkflow.Entry] {
        let step = reached.step
        let parameters = step.parameters
        if step.isDisabled { return [leaveOut(reached, ["disabled in the export"], blocks: true)] }
        var options: [(answer: String, edge: String)] = []
        var notes: [String] = []
        for option in parameters["options"]?.arrayValue ?? [] {
            guard let answer = option["answer"]?.stringValue, let edge = option["edgeId"]?.stringValue else {
                return [leaveOut(reached, ["an answer of it names no text or no edge"], blocks: true)]
            }
            options.append((answer, edge))
            if option["isTimeoutOnly"]?.boolValue == true {
                notes.append(
                    "the answer \"\(answer)\" is taken only on timeout in InsightConnect; in Relay a person could "
                        + "also give it")
            }
        }
        var gaps: [String] = []
        var question = ""
        for key in ["message", "question"] {
            guard let source = parameters[key]?.stringValue, !source.isEmpty else { continue }
            outputReads = []
            switch translateText(source, in: reached.scope) {
            case .success(let text):
                question += (question.isEmpty ? "" : "\n\n") + text
                gaps += outputReads
            case .failure(let problems):
                gaps.append(
                    "its \(key) is not part of the question: " + problems.all.map(\.reason).joined(separator: "; "))
            }
        }
        let app = ChatOpsApp.of(name: step.chatOpsAppName, identifier: nil)
        let decision = decisionStep(
            reached, options: options, timeout: parameters["timeout"], timeoutEdge: parameters["timeoutEdgeId"],
            question: question)
        var kind: ImportedStepKind
        switch decision.result {
        case .success(let decided): kind = decided
        case .failure(let gap): return [leaveOut(reached, [gap.reason], blocks: true)]
        }
        var imported = common(reached.node, step: step, paths: reached.paths)
        var entries: [ImportedWorkflow.Entry] = []
        let answer = "relay runs answer RUN_ID \(imported.id) <answer>"
        if case .success(let loaded) = specs.spec(app.plugin) {
            let message = chatMessage(reached, app: app, loaded: loaded, decision: imported.id)
            if let (messageStep, messageGaps) = message.step {
                entries.append(.step(messageStep))
                imported.needs = [messageStep.id]
                imported.when = nil
                gaps += messageGaps
                notes.append(
                    "its question is posted by step \(messageStep.id) (\(app.plugin) \(app.action)); \(answer)")
            } else {
                gaps += message.gaps
            }
        } else {
            gaps.append(
                "its question is not posted to \(step.chatOpsAppName ?? "chat"): no spec for \(app.plugin) in "
                    + "--specs; the run waits for an answer with \(answer)")
        }
        if case .decision(let text, let options, let timeout, let defaultOption) = kind, text.isEmpty {
            kind = .decision(question: step.name, options: options, timeout: timeout, defaultOption: defaultOption)
        }
        imported.kind = kind
        outcomes[reached.node] = .branching(decision.branches)
        let all = reached.gaps + gaps
        record(
            reached.node, scope: reached.scope, status: all.isEmpty ? .translated : .partial, id: imported.id,
            translation: "step \(imported.id): decision; when: on the first step of each answer's branch",
            reasons: all, notes: notes + decision.notes)
        return entries + [.step(imported)]
    }

    /// A human decision (InsightConnect's own UI): a `decision:` step whose options are its branches' names; its
    /// question is its name and the artifacts it showed.
    func translateHumanDecision(_ reached: Reached) -> ImportedWorkflow.Entry {
        let step = reached.step
        let parameters = step.parameters
        if step.isDisabled { return leaveOut(reached, ["disabled in the export"], blocks: true) }
        var options: [(answer: String, edge: String)] = []
        for (index, branch) in (parameters["stepControlParams"]?.arrayValue ?? []).enumerated() {
            guard let edge = branch["edgeId"]?.stringValue, let name = export.workflow.edges[edge]?.name,
                !name.isEmpty
            else {
                return leaveOut(
                    reached, ["its branch \(index + 1) has no name (the answer a person gives)"], blocks: true)
            }
            options.append((name, edge))
        }
        var question = step.name
        var gaps: [String] = []
        var notes = ["it waits for relay runs answer RUN_ID \(id(reached.node)) <answer> (relay runs show lists it)"]
        for case .string(let artifact) in parameters["notifications"]?["artifactIds"]?.arrayValue ?? [] {
            switch resolve(.node(id: artifact, path: ["content"]), in: reached.scope) {
            case .success(let reference): question += "\n\n{{ \(reference) }}"
            case .failure(let gap): notes.append("an artifact it showed is not in the question: \(gap.reason)")
            }
        }
        let mailed = parameters["notifications"]?["userIdsForEmail"]?.arrayValue ?? []
        if !mailed.isEmpty {
            gaps.append("InsightConnect e-mailed \(mailed.count) user(s) for it; Relay does not notify anyone")
        }
        let decision = decisionStep(
            reached, options: options, timeout: parameters["timeout"], timeoutEdge: parameters["timeoutEdgeId"],
            question: question)
        switch decision.result {
        case .failure(let gap): return leaveOut(reached, [gap.reason], blocks: true)
        case .success(let kind):
            return finish(
                reached, kind: kind, gaps: gaps, notes: notes + decision.notes,
                translation: "decision; when: on the first step of each answer's branch",
                outcome: .branching(decision.branches))
        }
    }

    /// The `decision:` of a chat-ops or human decision, and its branches' conditions. `timeout` is in seconds
    /// (`timeoutDisplayUnit` is only how InsightConnect shows it: MDR Active Response Router's 600 "minutes" is
    /// the ten minutes its description promises); the answer of `timeoutEdge` is the default.
    func decisionStep(
        _ reached: Reached, options: [(answer: String, edge: String)], timeout: JSONValue?, timeoutEdge: JSONValue?,
        question: String
    ) -> (result: Result<ImportedStepKind, TranslationGap>, branches: [String: [RelayCondition]], notes: [String]) {
        let answers = options.map(\.answer)
        guard !answers.isEmpty else { return (.failure(TranslationGap("it has no answers")), [:], []) }
        guard Set(answers).count == answers.count, !answers.contains(where: \.isEmpty) else {
            return (.failure(TranslationGap("its answers are not distinct and non-empty: \(answers)")), [:], [])
        }
        let output = "steps.\(id(reached.node)).output.option"
        var branches: [String: [RelayCondition]] = [:]
        for option in options {
            branches[option.edge] = [.comparison(.reference(output), "==", .literal(.string(option.answer)))]
        }
        var notes: [String] = []
        var duration: String?
        if let seconds = timeout?.intValue, seconds > 0 {
            guard seconds <= Int(WorkflowLimits.longestDuration.components.seconds) else {
                return (
                    .failure(
                        TranslationGap(
                            "its timeout (\(seconds) s) is longer than Relay's longest "
                                + "(\(WorkflowLimits.longestDurationDays) days)"
                        )),
                    [:], []
                )
            }
            duration = Self.duration(seconds: seconds)
        }
        let defaultOption = options.first { $0.edge == timeoutEdge?.stringValue }?.answer
        if duration != nil, defaultOption == nil {
            notes.append("no answer is taken on timeout: the timeout fails the step")
        }
        return (
            .success(
                .decision(question: question, options: answers, timeout: duration, defaultOption: defaultOption)),
            branches, notes
        )
    }

    /// `90s`, `10m`, `6h`: the largest unit that divides it.
    static func duration(seconds: Int) -> String {
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    /// The chat plugin's step that posts a chat-ops decision's message and question, before the decision.
    func chatMessage(_ reached: Reached, app: ChatOpsApp, loaded: SpecCatalog.Loaded, decision: String)
        -> (step: (ImportedStep, [String])?, gaps: [String])
    {
        let parameters = reached.step.parameters
        var text = [parameters["message"]?.stringValue, parameters["question"]?.stringValue]
            .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n\n")
        let answers = (parameters["options"]?.arrayValue ?? []).compactMap { $0["answer"]?.stringValue }
        text += "\n\nAnswer with: relay runs answer {{[$job].[id]}} \(decision) <\(answers.joined(separator: " | "))>"
        var input: JSONObject = ["recipient": parameters["recipient"] ?? .null, "message": .string(text)]
        if let thread = parameters["threadTimestamp"], !thread.isNull { input["thread_ts"] = thread }
        if let attachments = parameters["attachments"], !attachments.isNull { input["attachments"] = attachments }
        var step = ImportedStep(id: freshID("\(decision)_message"))
        let (needs, when) = Self.needsAndWhen(reached.paths)
        step.needs = needs
        step.when = when?.description
        step.comments = ["\(reached.step.name): the chat message of the decision after it"]
        let plugin = ICONPluginReference(
            title: app.plugin, vendor: "rapid7", slug: app.plugin, version: loaded.spec.version ?? "")
        switch pluginStep(
            &step, plugin: plugin, action: app.action, connection: !loaded.spec.connection.isEmpty,
            input: app.input(.object(input)), scope: reached.scope, stepName: reached.step.name)
        {
        case .failure(let problems):
            return (nil, ["its question is not posted: " + problems.reasons.joined(separator: "; ")])
        case .success(let checked):
            step.comments += app.missing.map { "input \($0): fill it in (a chat-ops step has no value for it)" }
            return ((step, checked.gaps + app.missing.map { "input \"\($0)\" of its chat message: fill it in" }), [])
        }
    }

    /// A step id made from `base` that no step has.
    func freshID(_ base: String) -> String { Self.unique(base, separator: "_", taken: &usedIDs) }

    /// `base`, or `base<separator>2`, `…3`: the first that is not taken, which it then is.
    static func unique(_ base: String, separator: String, taken: inout Set<String>) -> String {
        var candidate = base
        var counter = 2
        while taken.contains(candidate) {
            candidate = "\(base)\(separator)\(counter)"
            counter += 1
        }
        taken.insert(candidate)
        return candidate
    }
}
