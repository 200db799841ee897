import Foundation
import RelayCore
import RelaySpec

extension WorkflowTranslator {
    /// An action step: its plugin, action, connection and input, checked against the plugin's current spec.
    func translateAction(_ node: String, step: ICONStep, scope: Scope, paths: [Path], extraGaps: [String])
        -> ImportedWorkflow.Entry
    {
        if step.isDisabled {
            return leaveOut(node, scope: scope, reasons: [Self.disabledReason])
        }
        guard let plugin = step.plugin, let action = step.identifier, !action.isEmpty else {
            return leaveOut(node, scope: scope, reasons: ["the export names no plugin or action for it"])
        }
        var imported = common(node, step: step, paths: paths)
        switch pluginStep(
            &imported, plugin: plugin, action: action, connection: step.connectionType == "CONNECTION",
            input: step.input, scope: scope, stepName: step.name)
        {
        case .failure(let problems): return leaveOut(node, scope: scope, reasons: problems.reasons)
        case .success(let checked):
            outcomes[node] = .step
            let gaps = extraGaps + checked.gaps
            record(
                node, scope: scope, status: gaps.isEmpty ? .translated : .partial, id: imported.id,
                translation: "step \(imported.id)", reasons: gaps, notes: checked.notes)
            return .step(imported)
        }
    }

    /// Why a plugin step cannot be written.
    struct StepProblems: Error {
        var reasons: [String]
    }

    /// Writes a plugin step's plugin, action, connection and input (its templates translated), checked against
    /// the plugin's current spec; the gaps and notes of the check, or why the step cannot be written.
    func pluginStep(
        _ imported: inout ImportedStep, plugin: ICONPluginReference, action: String, connection: Bool,
        input source: JSONValue, scope: Scope, stepName: String
    ) -> Result<(gaps: [String], notes: [String]), StepProblems> {
        var use = PluginUse(
            plugin: plugin, component: action, kind: .action, workflow: scope.workflow, step: stepName,
            needsConnection: connection)
        var gaps: [String] = []
        var notes: [String] = []
        imported.plugin = plugin.slug
        imported.action = action
        if connection { imported.connection = plugin.slug }
        var input: JSONValue
        outputReads = []
        switch translateValue(source, in: scope) {
        case .success(let translated):
            input = translated
            gaps += outputReads
        case .failure(let problems):
            uses.append(use)
            return .failure(StepProblems(reasons: problems.all.map(\.reason)))
        }
        if input.objectValue == nil {
            gaps.append("its input is \(input.typeName), not a mapping of input names")
            input = [:]
        }
        if case .success(let loaded) = specs.spec(plugin.slug) {
            guard let schema = loaded.inputSchema(action, kind: .action) else {
                use.componentMissing = true
                uses.append(use)
                return .failure(
                    StepProblems(reasons: [
                        "plugin \(plugin.slug) \(loaded.spec.version ?? "") (the spec in --specs) has no action "
                            + "\"\(action)\" (the workflow was built with \(plugin.version))"
                    ]))
            }
            var object = input.objectValue ?? [:]
            let checked = checkInput(
                &object, original: source, schema: schema, plugin: plugin, loaded: loaded, use: &use)
            input = .object(object)
            gaps += checked.gaps
            notes += checked.notes
            imported.comments += checked.comments
        }
        imported.input = input
        uses.append(use)
        return .success((gaps, notes))
    }

    /// Compares a step's input with the action's input schema in the current spec: inputs the spec no longer has
    /// are dropped (and said so), required inputs the step lacks get the spec's default or are reported, plain
    /// values that no longer fit are reported, and JSON text with templates inside is reported (Relay renders it as
    /// a string).
    func checkInput(
        _ input: inout JSONObject, original: JSONValue, schema: JSONValue, plugin: ICONPluginReference,
        loaded: SpecCatalog.Loaded, use: inout PluginUse
    ) -> (gaps: [String], notes: [String], comments: [String]) {
        let properties = schema["properties"]?.objectValue ?? [:]
        let specVersion = "\(plugin.slug) \(loaded.spec.version ?? "(no version)")"
        var gaps: [String] = []
        var notes: [String] = []
        var comments: [String] = []
        for key in Array(input.keys) where properties[key] == nil {
            let value = original[key].map { JSONWriter.compact.string($0) } ?? "?"
            let shown = value.count > 80 ? String(value.prefix(77)) + "…" : value
            gaps.append("input \"\(key)\" is gone in \(specVersion); dropped (it was \(shown))")
            comments.append("input \(key) dropped: \(specVersion) has no such input (it was \(shown))")
            use.goneInputs.append(key)
            input[key] = nil
        }
        for case .string(let required) in schema["required"]?.arrayValue ?? [] where input[required] == nil {
            if let value = properties[required]?["default"] {
                input[required] = value
                notes.append(
                    "required input \"\(required)\" (new in \(specVersion)) set to the spec's default "
                        + JSONWriter.compact.string(value))
                use.filledDefaults.append(required)
            } else {
                gaps.append("required input \"\(required)\" (new in \(specVersion)) has no value: fill it in")
                comments.append("input \(required) is required by \(specVersion) and has no value: fill it in")
                use.missingRequired.append(required)
            }
        }
        for (key, value) in input {
            guard let property = properties[key] else { continue }
            if case .string(let text) = value, text.contains("{{"), isStructured(property, schema: schema),
                let pieces = ICONTemplate.pieces(text), pieces.count != 1
            {
                gaps.append(
                    "input \"\(key)\" holds JSON text with templates inside (\(ICONTemplate.quoted(text))); Relay "
                        + "renders it as a string, not as the \(property["type"]?.stringValue ?? "object") the "
                        + "action takes")
                continue
            }
            guard !ICONTemplate.containsTemplate(value) else { continue }
            let single: JSONValue = ["properties": [key: property], "definitions": schema["definitions"] ?? [:]]
            for problem in SchemaValidator(schema: single).validate(
                .object([key: value]), at: JSONPath(root: "input"))
            {
                gaps.append("\(problem.path.description): \(problem.message) (against \(specVersion))")
            }
        }
        return (gaps, notes, comments)
    }

    private func isStructured(_ property: JSONValue, schema: JSONValue) -> Bool {
        if let type = property["type"]?.stringValue { return type == "array" || type == "object" }
        return property["$ref"] != nil || property["items"] != nil
    }

    /// A loop: a `for_each` over its `repeatVariable`, one item at a time, running a sub-workflow that holds the
    /// body. The body reads the item as `trigger.item`, and what lies outside it from what the loop step passes.
    func translateLoop(_ node: String, step: ICONStep, scope: Scope, paths: [Path], extraGaps: [String])
        -> ImportedWorkflow.Entry
    {
        if step.isDisabled { return leaveOut(node, scope: scope, reasons: ["disabled in the export"]) }
        guard scope.depth < ImportLimits.maximumLoopNesting else {
            return leaveOut(
                node, scope: scope, reasons: ["loops nest deeper than \(ImportLimits.maximumLoopNesting) levels"])
        }
        let parameters = step.parameters
        var notes: [String] = []
        var gaps = extraGaps
        guard var source = parameters["repeatVariable"]?.stringValue,
            !source.trimmingCharacters(in: .whitespaces).isEmpty
        else {
            if let count = parameters["repeatCount"] {
                return leaveOut(
                    node, scope: scope,
                    reasons: [
                        "it repeats \(JSONWriter.compact.string(count)) times with a delay (repeatCount) instead "
                            + "of going "
                            + "over an array; Relay's for_each needs an array"
                    ])
            }
            return leaveOut(node, scope: scope, reasons: ["it has no repeatVariable (nothing to loop over)"])
        }
        source = source.trimmingCharacters(in: .whitespaces)
        if !source.contains("{{"), source.hasPrefix("[") {
            source = "{{\(source)}}"
            notes.append("its repeatVariable is written without {{ }} in the export; read as a reference")
        }
        guard let pieces = ICONTemplate.pieces(source), pieces.count == 1, case .token(let token) = pieces[0] else {
            return leaveOut(
                node, scope: scope,
                reasons: ["its repeatVariable \(ICONTemplate.quoted(source)) is not one reference to an array"])
        }
        let over: String
        outputReads = []
        switch resolve(ICONReference.parse(token: token, nodes: nodes), in: scope) {
        case .success(let reference):
            over = reference
            gaps += outputReads
        case .failure(let gap): return leaveOut(node, scope: scope, reasons: ["its repeatVariable " + gap.reason])
        }
        let custom = (parameters["customOutput"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        if !custom.isEmpty {
            gaps.append(
                "its custom outputs (\(custom.map { "\"\($0)\"" }.joined(separator: ", "))) are not translated: Relay "
                    + "has no values collected per iteration yet; the steps that read them are reported")
        }
        let loopID = id(node)
        guard let inner = parameters["innerEdgeId"]?.stringValue, let edge = export.workflow.edges[inner],
            !edge.to.isEmpty
        else {
            return leaveOut(node, scope: scope, reasons: ["its body is empty (nothing to run per item)"])
        }
        let child = Scope(
            loop: node, parent: scope,
            workflow: Self.boundedName("\(scope.workflow)--\(Self.slug(loopID, separator: "-", fallback: "loop"))"),
            depth: scope.depth + 1)
        let entries = translateScope(child, start: edge.to)
        guard entries.contains(where: { if case .step = $0 { true } else { false } }) else {
            return leaveOut(node, scope: scope, reasons: ["no step of its body could be translated"], notes: notes)
        }
        let breaks = steps.values.filter {
            guard $0.type == .break, export.workflow.parents[$0.nodeID] == node else { return false }
            if case .step = outcomes[$0.nodeID] { return false }
            return true
        }
        if !breaks.isEmpty {
            gaps.append(
                "its body has \(breaks.count) break step(s) that are not translated: every item runs, where "
                    + "InsightConnect could leave the loop early")
        }
        var body = ImportedWorkflow(
            name: child.workflow,
            description:
                "The body of loop \"\(step.name)\" of workflow \(scope.workflow): run once per item, one at a time, "
                + "as InsightConnect runs a loop. Its trigger event is what the loop step passes: the item, and what "
                + "the body reads from outside it.")
        body.entries = entries
        loopWorkflows[node] = subWorkflows.count
        subWorkflows.append(body)

        var imported = common(node, step: step, paths: paths)
        imported.workflow = child.workflow
        imported.forEach = "{{ \(over) }}"
        imported.concurrency = 1
        var input: JSONValue = ["item": "{{ item }}"]
        for (keys, expression) in child.imports { input.set(keys, to: .string("{{ \(expression) }}")) }
        imported.input = input
        outcomes[node] = .step
        record(
            node, scope: scope, status: gaps.isEmpty ? .translated : .partial, id: loopID,
            translation: "step \(loopID): for_each over sub-workflow \(child.workflow), concurrency 1",
            reasons: gaps, notes: notes)
        return .step(imported)
    }
}

extension JSONValue {
    /// Sets the value at a path of object keys, creating objects on the way.
    mutating func set(_ keys: [String], to value: JSONValue) {
        guard let first = keys.first else {
            self = value
            return
        }
        var object = objectValue ?? [:]
        var child = object[first] ?? [:]
        child.set(Array(keys.dropFirst()), to: value)
        object[first] = child
        self = .object(object)
    }
}

extension WorkflowTranslator {
    /// A workflow name short enough for a file name (`<name>.yaml` within 255 bytes): a longer one (loops nested in
    /// loops with long names) is cut and ends with a hash of the whole, so two cut names stay apart.
    static func boundedName(_ name: String) -> String {
        guard name.utf8.count > 200 else { return name }
        let hash = String(StableHash.fnv1a(name), radix: 16)
        var cut = ""
        for character in name {
            if cut.utf8.count + character.utf8.count > 180 { break }
            cut.append(character)
        }
        return cut + "-" + hash
    }
}
