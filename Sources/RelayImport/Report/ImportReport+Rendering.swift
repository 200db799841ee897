import Foundation
import RelayCore

extension ImportReport {
    /// `N of M (x %)`.
    static func share(_ part: Int, _ whole: Int) -> String {
        guard whole > 0 else { return "\(part) of 0" }
        return "\(part) of \(whole) (\(String(format: "%.1f", Double(part) * 100 / Double(whole))) %)"
    }

    /// The figures in one paragraph.
    public var summary: String {
        var text =
            "\(workflows.count) export(s) read"
            + (failures.isEmpty ? "" : ", \(failures.count) could not be read") + ". Workflows translated in full: "
            + Self.share(completeWorkflows, workflows.count) + ". Steps translated: "
            + Self.share(steps(.translated), totalSteps) + " in full, "
            + Self.share(steps(.partial), totalSteps) + " with a gap, "
            + Self.share(steps(.notTranslated), totalSteps) + " not translated."
        let withSpecs = workflows.filter { $0.pluginsWithoutSpec.isEmpty }.count
        text += " Workflows whose plugins all have a spec in --specs: \(Self.share(withSpecs, workflows.count))."
        return text
    }

    /// `import-report.md`.
    public var markdown: String {
        var out = ["# InsightConnect import report", "", summary, ""]
        if !failures.isEmpty {
            out += ["## Files not read", ""]
            for failure in failures { out.append("- \(failure.message)") }
            out.append("")
        }
        out += [
            "## Plugins", "",
            "Each plugin with a spec runs as InsightConnect's published image (`plugins/<name>.yaml`); the spec is "
                + "the one in --specs, whose version is compared with the versions the workflows were built with.",
            "", "| plugin | built with | spec | files | what differs |", "|---|---|---|---|---|",
        ]
        for plugin in plugins {
            let spec = plugin.specVersion ?? ("none: " + (plugin.specProblem ?? "?"))
            out.append(
                "| \(cell(plugin.name)) | \(cell(plugin.usedVersions.joined(separator: ", "))) | \(cell(spec)) | "
                    + "\(cell(plugin.files.joined(separator: ", "))) | "
                    + "\(cell(plugin.differences.isEmpty ? "—" : plugin.differences.joined(separator: "; "))) |")
        }
        out += ["", "## Workflows", ""]
        for workflow in workflows {
            let status = workflow.isComplete ? "translated in full" : "partially translated"
            out.append("### \(workflow.name)")
            out.append("")
            out.append(
                "`\(workflow.file)` → "
                    + (workflow.workflowFiles.isEmpty
                        ? "no file" : workflow.workflowFiles.map { "`\($0)`" }.joined(separator: ", "))
                    + ": **\(status)**.")
            out.append("")
            let trigger = workflow.trigger
            out.append(
                "- Trigger \(cell(trigger.name)) (`\(trigger.type)`): "
                    + (trigger.translation ?? "not translated")
                    + (trigger.gap.map { ". **Gap:** \($0)" } ?? "")
                    + (trigger.notes.isEmpty ? "" : ". " + trigger.notes.joined(separator: "; ")))
            for gap in workflow.gaps { out.append("- **Gap:** \(gap)") }
            if !workflow.pluginsWithoutSpec.isEmpty {
                out.append(
                    "- Plugins without a spec in --specs (not checked, no plugins/ file): "
                        + workflow.pluginsWithoutSpec.joined(separator: ", "))
            }
            for note in workflow.notes { out.append("- \(note)") }
            out += ["", "| step | type | status | in Relay | why, notes |", "|---|---|---|---|---|"]
            for step in workflow.steps {
                let why = (step.reasons + step.notes).joined(separator: "; ")
                out.append(
                    "| \(cell(step.name)) | \(step.type) | \(step.status.rawValue) | "
                        + "\(cell(step.translation ?? "—")) | "
                        + "\(cell(why.isEmpty ? "—" : why)) |")
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    private func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    /// The report as JSON (`--json`), with the same content as the Markdown.
    public var json: JSONValue {
        func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        let total = totalSteps
        return [
            "summary": [
                "exports": .int(workflows.count), "unreadable": .int(failures.count),
                "workflows_translated_in_full": .int(completeWorkflows),
                "steps": .int(total), "steps_translated": .int(steps(.translated)),
                "steps_partial": .int(steps(.partial)), "steps_not_translated": .int(steps(.notTranslated)),
            ],
            "failures": .array(failures.map { ["file": .string($0.file), "message": .string($0.message)] }),
            "plugins": .array(
                plugins.map { plugin in
                    [
                        "name": .string(plugin.name), "used_versions": strings(plugin.usedVersions),
                        "spec": optional(plugin.specPath), "spec_version": optional(plugin.specVersion),
                        "spec_problem": optional(plugin.specProblem),
                        "components": .object(
                            JSONObject(
                                uniqueKeysWithValues: plugin.components.sorted { $0.key < $1.key }.map {
                                    ($0.key, JSONValue.int($0.value))
                                })),
                        "workflows": strings(plugin.workflows), "differences": strings(plugin.differences),
                        "files": strings(plugin.files), "needs_connection": .bool(plugin.needsConnection),
                    ]
                }),
            "workflows": .array(
                workflows.map { workflow in
                    [
                        "file": .string(workflow.file), "name": .string(workflow.name),
                        "relay_name": .string(workflow.relayName), "files": strings(workflow.workflowFiles),
                        "translated_in_full": .bool(workflow.isComplete),
                        "trigger": [
                            "type": .string(workflow.trigger.type), "name": .string(workflow.trigger.name),
                            "translation": optional(workflow.trigger.translation),
                            "gap": optional(workflow.trigger.gap), "notes": strings(workflow.trigger.notes),
                        ],
                        "gaps": strings(workflow.gaps), "notes": strings(workflow.notes),
                        "plugins_without_spec": strings(workflow.pluginsWithoutSpec),
                        "steps": .array(
                            workflow.steps.map { step in
                                [
                                    "node": .string(step.nodeID), "name": .string(step.name),
                                    "type": .string(step.type),
                                    "status": .string(step.status.rawValue), "id": optional(step.id),
                                    "workflow": optional(step.workflow), "translation": optional(step.translation),
                                    "reasons": strings(step.reasons), "notes": strings(step.notes),
                                ]
                            }),
                    ]
                }),
        ]
    }
}
