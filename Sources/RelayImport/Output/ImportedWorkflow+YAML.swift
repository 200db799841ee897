import RelayCore

extension ImportedWorkflow {
    /// The workflow file's text: Relay's workflow keys in the order a person writes them, a comment above each
    /// step with its name in InsightConnect, and a comment where a step was left out saying why.
    public var yaml: String {
        var writer = YAMLWriter()
        for line in header { writer.comment(line, indent: 0) }
        writer.entry("name", .string(name), indent: 0)
        if let description { writer.entry("description", .string(description), indent: 0) }
        if let trigger {
            writer.line("trigger:")
            for comment in trigger.comments { writer.comment(comment, indent: 2) }
            writer.entry("plugin", .string(trigger.plugin), indent: 2)
            writer.entry("trigger", .string(trigger.trigger), indent: 2)
            if let connection = trigger.connection { writer.entry("connection", .string(connection), indent: 2) }
            writer.entry("input", trigger.input, indent: 2)
        }
        if !variables.isEmpty {
            writer.line("vars:")
            for variable in variables {
                let about = [variable.type, variable.description].compactMap { $0 }.filter { !$0.isEmpty }
                writer.comment(
                    "\(variable.name)\(about.isEmpty ? "" : ": " + about.joined(separator: ", ")) (fill in)", indent: 2)
                writer.entry(variable.name, .null, indent: 2)
            }
        }
        writer.line(steps.isEmpty ? "steps: []" : "steps:")
        for entry in entries {
            switch entry {
            case .omitted(let text): writer.comment(text, indent: 2)
            case .step(let step): step.write(into: &writer)
            }
        }
        if let output { writer.entry("output", output, indent: 0) }
        return writer.text
    }
}

extension ImportedStep {
    func write(into writer: inout YAMLWriter) {
        for comment in comments { writer.comment(comment, indent: 2) }
        writer.line("  - id: \(YAMLWriter.quoted(id))")
        let indent = 4
        if let kind { writer.entry(kind.key, kind.value, indent: indent) }
        if let workflow { writer.entry("workflow", .string(workflow), indent: indent) }
        if let plugin { writer.entry("plugin", .string(plugin), indent: indent) }
        if let action { writer.entry("action", .string(action), indent: indent) }
        if let connection { writer.entry("connection", .string(connection), indent: indent) }
        writer.entry("needs", .array(needs.map(JSONValue.string)), indent: indent)
        if let when { writer.entry("when", .string(when), indent: indent) }
        if let forEach { writer.entry("for_each", .string(forEach), indent: indent) }
        if let concurrency { writer.entry("concurrency", .int(concurrency), indent: indent) }
        if continueOnFailure { writer.entry("continue_on_failure", true, indent: indent) }
        if kind == nil { writer.entry("input", input, indent: indent) }
    }
}
