import Foundation

extension WorkflowTranslator {
    /// The workflow's report: every step of the export (the trigger's node aside), in the order of the file's
    /// graph walk where it was walked; a step inside a loop that was left out before its body was walked is
    /// reported as such.
    func report(main: ImportedWorkflow) -> WorkflowReport {
        var report = WorkflowReport(
            file: (export.file as NSString).lastPathComponent, name: export.workflow.name, relayName: name,
            trigger: trigger.report)
        report.workflowFiles = ([main] + subWorkflows).map { "workflows/\($0.name).yaml" }
        for node in order { if let known = reports[node] { report.steps.append(known) } }
        for (node, step) in steps where step.type != .trigger && reports[node] == nil {
            var reason = "not reached by the walk of the graph"
            var loop = export.workflow.parents[node] ?? ""
            // (A cycle of parents in a hostile export ends the walk: each loop is looked at once.)
            var seen: Set<String> = []
            while !loop.isEmpty, seen.insert(loop).inserted {
                if case .leftOut = outcomes[loop] {
                    reason = "inside loop \(name(of: loop)), which is not translated"
                    break
                }
                if case .blocking = outcomes[loop] {
                    reason = "inside loop \(name(of: loop)), which is not translated"
                    break
                }
                if case .cutOff = outcomes[loop] {
                    reason = "inside loop \(name(of: loop)), which is not translated"
                    break
                }
                loop = export.workflow.parents[loop] ?? ""
            }
            report.steps.append(
                StepReport(
                    nodeID: node, name: step.name, type: step.type.description, status: .notTranslated,
                    reasons: [reason]))
        }
        report.gaps = workflowGaps
        report.notes = workflowNotes
        let variables = main.variables.map(\.name)
        if !variables.isEmpty {
            report.notes.append(
                "workflow variables \(variables.map { "\"\($0)\"" }.joined(separator: ", ")) are null under vars: "
                    + "(exports hold no values): fill them in")
        }
        var missing: Set<String> = []
        for use in uses {
            if case .failure = specs.spec(use.plugin.slug) { missing.insert(use.plugin.slug) }
        }
        report.pluginsWithoutSpec = missing.sorted()
        return report
    }
}
