import Foundation
import RelayCore
import RelaySpec

/// What the export's trigger became.
struct TriggerTranslation {
    var binding: ImportedTrigger?
    /// Where templates find the trigger's output: `trigger.json` for a webhook (its event is `{method, path,
    /// headers, query, body, json}`), `trigger` for a plugin's trigger.
    var base: RelayReference
    var report: TriggerReport
}

extension WorkflowTranslator {
    static let webhookTriggers: [String: String] = [
        "trigger_api": "an API trigger (InsightConnect's own webhook URL)",
        "trigger_api_idr": "an InsightIDR alert trigger",
        "trigger_api_vm_webhook": "an InsightVM webhook trigger",
    ]

    func translateTrigger() -> TriggerTranslation {
        let source = export.trigger
        var report = TriggerReport(type: source.type, name: source.name)
        if let kind = Self.webhookTriggers[source.type] {
            let binding = ImportedTrigger(
                plugin: "webhook", trigger: "webhook", input: ["path": .string(name)],
                comments: [
                    "\(source.name): \(kind)\(source.identifier.map { " (\($0))" } ?? "") in InsightConnect. Here a "
                        + "webhook: POST the same JSON body to /webhooks/\(name); templates read it as trigger.json."
                ])
            report.translation = "webhook at /webhooks/\(name) (trigger.json is the body InsightConnect received)"
            report.notes.append(
                "whatever called InsightConnect's \(source.type) trigger must now POST the same JSON to Relay's "
                    + "/webhooks/\(name)")
            return TriggerTranslation(
                binding: binding, base: RelayReference(root: "trigger", segments: ["json"]), report: report)
        }
        switch source.type {
        case "trigger_plugin":
            guard let plugin = source.plugin, let identifier = source.identifier else {
                report.gap = "the export names no plugin or trigger"
                return TriggerTranslation(binding: nil, base: RelayReference(root: "trigger"), report: report)
            }
            if plugin.slug == "timers" {
                return timerTrigger(identifier: identifier, input: source.input, report: report)
            }
            return pluginTrigger(plugin: plugin, identifier: identifier, report: report)
        case "trigger_chatops":
            report.gap =
                "a chat-ops trigger (\(source.chatOpsAppName ?? "chat") \(source.identifier ?? "message")) is not "
                + "translated yet: it needs the chat plugin's trigger and spec. The workflow has no trigger; its "
                + "templates read the event as InsightConnect's (trigger.message…), so an event of that shape (relay "
                + "events publish) runs it"
        default:
            report.gap = "the trigger type \"\(source.type)\" is not known to this importer"
        }
        return TriggerTranslation(binding: nil, base: RelayReference(root: "trigger"), report: report)
    }

    /// The timers plugin's daily and weekly triggers → Relay's native `timer` with a cron expression (UTC).
    func timerTrigger(identifier: String, input: JSONValue, report: TriggerReport) -> TriggerTranslation {
        var report = report
        let base = RelayReference(root: "trigger")
        let days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
        let time = input["times_in_utc"]?.stringValue ?? ""
        let parts = time.split(separator: ":").map { Int($0) }
        guard parts.count >= 2, parts.count <= 3, let hour = parts[0], let minute = parts[1], (0...23).contains(hour),
            (0...59).contains(minute)
        else {
            report.gap = "timers \(identifier): times_in_utc \(JSONWriter.compact.string(.string(time))) is not HH:MM"
            return TriggerTranslation(binding: nil, base: base, report: report)
        }
        if parts.count == 3, let seconds = parts[2], seconds != 0 {
            report.notes.append("times_in_utc \(time) has seconds; cron runs at the minute (\(hour):\(minute))")
        }
        let expression: String
        switch identifier {
        case "daily": expression = "\(minute) \(hour) * * *"
        case "weekly":
            let day = (input["day"]?.stringValue ?? "").lowercased()
            guard let weekday = days.firstIndex(of: day) else {
                report.gap = "timers weekly: day \(JSONWriter.compact.string(input["day"] ?? .null)) is not a weekday"
                return TriggerTranslation(binding: nil, base: base, report: report)
            }
            expression = "\(minute) \(hour) * * \(weekday)"
        default:
            report.gap = "the timers trigger \"\(identifier)\" is not translated yet (daily and weekly are)"
            return TriggerTranslation(binding: nil, base: base, report: report)
        }
        if let message = input["message"]?.stringValue, !message.isEmpty {
            report.notes.append("the timer's message \(JSONWriter.compact.string(.string(message))) is not kept")
        }
        report.translation = "timer cron \(expression) (UTC)"
        return TriggerTranslation(
            binding: ImportedTrigger(
                plugin: "timer", trigger: "cron", input: ["expression": .string(expression)],
                comments: ["\(export.trigger.name): timers \(identifier) in InsightConnect, at \(time) UTC"]),
            base: base, report: report)
    }

    /// Another plugin's trigger, checked against its current spec.
    func pluginTrigger(plugin: ICONPluginReference, identifier: String, report: TriggerReport) -> TriggerTranslation {
        var report = report
        let base = RelayReference(root: "trigger")
        let node = steps.values.first { $0.type == .trigger }
        let needsConnection = node?.connectionType == "CONNECTION"
        var use = PluginUse(
            plugin: plugin, component: identifier, kind: .trigger, workflow: name, step: export.trigger.name,
            needsConnection: needsConnection)
        // The input may read workflow variables ({{$workflow.[Channel]}}), which Relay renders into a trigger's
        // input when it reads the workflow; nothing else exists before a run.
        trigger = TriggerTranslation(binding: nil, base: base, report: report)
        let top = Scope(loop: nil, parent: nil, workflow: name, depth: 0)
        var input = export.trigger.input
        let before = Set(variablesUsed)
        switch translateValue(input, in: top) {
        case .success(let translated): input = translated
        case .failure(let problems): report.gap = problems.all.map(\.reason).joined(separator: "; ")
        }
        let others = Self.tokens(in: export.trigger.input).filter {
            if case .variable = ICONReference.parse(token: $0, nodes: nodes) { return false }
            return true
        }
        if !others.isEmpty, report.gap == nil {
            report.gap =
                "its input reads \(others.map { "{{\($0)}}" }.joined(separator: ", ")); a trigger's input may read "
                + "only the workflow's variables"
        }
        let read = variablesUsed.filter { !before.contains($0) }
        if !read.isEmpty {
            report.notes.append(
                "its input reads the workflow variables \(read.map { "\"\($0)\"" }.joined(separator: ", ")), "
                    + "null under vars: until filled in (relay workflow validate names the inputs still null)")
        }
        var binding = ImportedTrigger(
            plugin: plugin.slug, trigger: identifier, connection: needsConnection ? plugin.slug : nil, input: input,
            comments: [
                "\(export.trigger.name): \(plugin.slug) \(plugin.version) trigger \(identifier) in InsightConnect"
            ])
        if case .success(let loaded) = specs.spec(plugin.slug) {
            if let schema = loaded.inputSchema(identifier, kind: .trigger) {
                var object = input.objectValue ?? [:]
                let checked = checkInput(
                    &object, original: export.trigger.input, schema: schema, plugin: plugin, loaded: loaded, use: &use)
                binding.input = .object(object)
                binding.comments += checked.comments
                report.notes += checked.notes
                if !checked.gaps.isEmpty {
                    report.gap = ([report.gap].compactMap { $0 } + checked.gaps).joined(separator: "; ")
                }
            } else {
                use.componentMissing = true
                report.gap =
                    "plugin \(plugin.slug) \(loaded.spec.version ?? "") (the spec in --specs) has no trigger "
                    + "\"\(identifier)\""
            }
        }
        uses.append(use)
        report.translation = "\(plugin.slug) trigger \(identifier)"
        return TriggerTranslation(binding: binding, base: base, report: report)
    }

    /// The insides of every `{{ … }}` in a value's strings.
    static func tokens(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text):
            return (ICONTemplate.pieces(text) ?? []).compactMap {
                if case .token(let token) = $0 { return token }
                return nil
            }
        case .array(let items): return items.flatMap(tokens(in:))
        case .object(let object): return object.values.flatMap(tokens(in:))
        default: return []
        }
    }
}
