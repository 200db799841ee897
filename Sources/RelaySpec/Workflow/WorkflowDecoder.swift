import Foundation
import RelayCore

/// Reads a workflow YAML file. Errors name the file, line and key:
/// `workflows/triage.yaml:12: steps[2].retry.attempts: expected a positive integer, found "three"`.
public enum WorkflowDecoder {
    public static func load(path: String) throws(RelayError) -> Workflow {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RelayError(.notFound, "\(path): no such file")
        }
        return try decode(yaml: String(decoding: data, as: UTF8.self), file: path)
    }

    public static func decode(yaml: String, file: String) throws(RelayError) -> Workflow {
        let root = try YAMLDocument.parse(yaml, file: file)
        func fail(_ node: YAMLNode?, _ path: String, _ message: String) -> RelayError {
            RelayError(.invalidSpec, "\(file):\(node?.line ?? 1): \(path): \(message)")
        }
        guard root.mapping != nil else {
            throw fail(
                root, "workflow", "expected a mapping with name, trigger and steps, found \(root.kindDescription)")
        }
        let workflowKeys = ["name", "version", "description", "vars", "trigger", "steps", "output", "timeout"]
        for entry in root.orderedEntries where !workflowKeys.contains(entry.key) {
            throw fail(
                entry.keyNode, entry.key, "unknown key (a workflow has \(workflowKeys.joined(separator: ", ")))")
        }
        guard let name = root["name"]?.string, !name.isEmpty else {
            throw fail(root["name"] ?? root, "name", "expected the workflow's name")
        }
        var version = 1
        if let node = root["version"] {
            guard case .scalar(.int(let v)) = node.value, v > 0 else {
                throw fail(node, "version", "expected a positive integer, found \(node.kindDescription)")
            }
            version = v
        }
        let vars = try decodeVars(root["vars"], fail: fail)
        let binding = try decodeTrigger(root["trigger"], vars: vars, fail: fail)

        guard let stepsNode = root["steps"], let items = stepsNode.sequence else {
            throw fail(root["steps"] ?? root, "steps", "expected a list of steps")
        }
        var steps: [WorkflowStep] = []
        var ids = Set<String>()
        for (index, node) in items.enumerated() {
            let path = "steps[\(index)]"
            guard node.mapping != nil else {
                throw fail(node, path, "expected a mapping with id, plugin, action and input")
            }
            let allowed =
                [
                    "id", "plugin", "action", "connection", "input", "continue_on_failure", "retry", "timeout", "when",
                    "needs", "for_each", "concurrency", "workflow",
                ] + BuiltinStep.keys
            for entry in node.orderedEntries where !allowed.contains(entry.key) {
                throw fail(
                    entry.keyNode, "\(path).\(entry.key)", "unknown key (a step has \(allowed.joined(separator: ", ")))"
                )
            }
            guard let id = node["id"]?.string, !id.isEmpty else {
                throw fail(node, "\(path).id", "expected the step's id")
            }
            guard id.range(of: #"^[A-Za-z_][A-Za-z0-9_-]*$"#, options: .regularExpression) != nil else {
                throw fail(
                    node["id"], "\(path).id", "\"\(id)\" must start with a letter and hold letters, digits, _ and -")
            }
            guard ids.insert(id).inserted else {
                throw fail(node["id"], "\(path).id", "\"\(id)\" is used by an earlier step")
            }
            var step: WorkflowStep
            if let builtin = try decodeBuiltin(node, path: path, fail: fail) {
                step = WorkflowStep(id: id, plugin: "", action: "")
                step.builtin = builtin
            } else if let subWorkflow = node["workflow"] {
                guard let name = subWorkflow.string, !name.isEmpty else {
                    throw fail(
                        subWorkflow, "\(path).workflow",
                        "expected the name of the workflow to run, found \(subWorkflow.kindDescription)")
                }
                for key in ["plugin", "action", "connection"] where node[key] != nil {
                    throw fail(
                        node[key], "\(path).\(key)",
                        "a step runs either a plugin's action (plugin, action) or a workflow (workflow), not both")
                }
                step = WorkflowStep(id: id, plugin: "", action: "", input: node["input"]?.json ?? [:])
                step.workflow = name
            } else {
                guard let stepPlugin = node["plugin"]?.string else {
                    throw fail(node, "\(path).plugin", "expected the step's plugin (or workflow: for a sub-workflow)")
                }
                guard let action = node["action"]?.string else {
                    throw fail(node, "\(path).action", "expected the step's action")
                }
                step = WorkflowStep(
                    id: id, plugin: stepPlugin, action: action, connection: node["connection"]?.string,
                    input: node["input"]?.json ?? [:])
            }
            step.continueOnFailure = try flag(
                node["continue_on_failure"], path: "\(path).continue_on_failure", fail: fail)
            if let retry = node["retry"] {
                guard retry.mapping != nil else {
                    throw fail(retry, "\(path).retry", "expected a mapping with attempts and backoff")
                }
                if let attempts = retry["attempts"] {
                    let most = WorkflowLimits.mostAttempts
                    guard case .scalar(.int(let n)) = attempts.value, (1...most).contains(n) else {
                        throw fail(
                            attempts, "\(path).retry.attempts",
                            "expected an integer between 1 and \(most), found \(attempts.kindDescription)")
                    }
                    step.retry.attempts = n
                }
                if let backoff = retry["backoff"] {
                    step.retry.backoff = try duration(backoff, path: "\(path).retry.backoff", fail: fail)
                }
            }
            if let timeout = node["timeout"] {
                step.timeout = try duration(timeout, path: "\(path).timeout", fail: fail)
                step.hasTimeout = true
            }
            if let when = node["when"] {
                guard let condition = try condition(when, path: "\(path).when", fail: fail) else {
                    throw fail(when, "\(path).when", "expected a condition such as steps.check.status == \"failed\"")
                }
                step.when = condition
            }
            do {
                _ = try Template.references(in: step.input)
            } catch {
                throw fail(node["input"], "\(path).input", error.message)
            }
            if let needs = node["needs"] {
                guard let list = needs.sequence else {
                    throw fail(
                        needs, "\(path).needs",
                        "expected a list of step ids such as [a, b], found \(needs.kindDescription)")
                }
                var ids: [String] = []
                for item in list {
                    guard let need = item.string, !need.isEmpty else {
                        throw fail(item, "\(path).needs", "expected a step id, found \(item.kindDescription)")
                    }
                    guard !ids.contains(need) else {
                        throw fail(item, "\(path).needs", "\"\(need)\" is listed twice")
                    }
                    ids.append(need)
                }
                step.needs = ids
            }
            try decodeForEach(node, path: path, into: &step, fail: fail)
            steps.append(step)
        }
        guard !steps.isEmpty else { throw fail(stepsNode, "steps", "a workflow needs at least one step") }
        var workflow = Workflow(
            name: name, version: version, trigger: binding, steps: steps, file: file, source: yaml)
        workflow.vars = vars
        if let timeout = root["timeout"] { workflow.timeout = try duration(timeout, path: "timeout", fail: fail) }
        if let output = root["output"] {
            workflow.output = output.json
            do {
                _ = try Template.references(in: output.json)
            } catch {
                throw fail(output, "output", error.message)
            }
        }
        try checkGraph(workflow, nodes: items, fail: fail)
        try checkOutput(workflow, node: root["output"], fail: fail)
        return workflow
    }

    /// The workflow's `trigger`; nil when it has none (it runs only as another workflow's sub-workflow). Its `input`
    /// may use the workflow's vars (`{{ vars.channel }}`), and is rendered with them here: the instance a binding
    /// runs (and shares with the workflows whose binding is the same) is identified by the input it gets.
    static func decodeTrigger(
        _ node: YAMLNode?, vars: JSONObject, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> TriggerBinding? {
        guard let triggerNode = node else { return nil }
        guard triggerNode.mapping != nil else {
            throw fail(triggerNode, "trigger", "expected a mapping with plugin, trigger, connection and input")
        }
        for entry in triggerNode.orderedEntries
        where !["plugin", "trigger", "task", "every", "schedule", "connection", "input"].contains(entry.key) {
            throw fail(
                entry.keyNode, "trigger.\(entry.key)",
                "unknown key (a trigger has plugin, trigger or task (with every or schedule), connection, input)")
        }
        guard let plugin = triggerNode["plugin"]?.string else {
            throw fail(triggerNode, "trigger.plugin", "expected the trigger's plugin")
        }
        if let task = triggerNode["task"]?.string {
            var every: Duration?
            if let node = triggerNode["every"] { every = try duration(node, path: "trigger.every", fail: fail) }
            let schedule = triggerNode["schedule"]?.string
            guard every != nil || schedule != nil else {
                throw fail(triggerNode, "trigger", "a task needs every (e.g. 5m) or schedule (a cron expression)")
            }
            return TriggerBinding(
                plugin: plugin, trigger: task, connection: triggerNode["connection"]?.string,
                input: try triggerInput(triggerNode["input"], vars: vars, fail: fail), isTask: true, every: every,
                schedule: schedule)
        } else {
            guard let trigger = triggerNode["trigger"]?.string else {
                throw fail(triggerNode, "trigger.trigger", "expected the trigger's name (or task: for a spec task)")
            }
            return TriggerBinding(
                plugin: plugin, trigger: trigger, connection: triggerNode["connection"]?.string,
                input: try triggerInput(triggerNode["input"], vars: vars, fail: fail))
        }
    }

    /// `for_each` (one reference, such as `"{{ steps.list.output.ips }}"`) and `concurrency` (1 to
    /// `WorkflowLimits.mostConcurrency`, only with `for_each`).
    static func decodeForEach(
        _ node: YAMLNode, path: String, into step: inout WorkflowStep, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) {
        if let forEach = node["for_each"] {
            let example = "a template that renders to an array, such as \"{{ steps.list.output.ips }}\""
            guard let text = forEach.string else {
                throw fail(forEach, "\(path).for_each", "expected \(example), found \(forEach.kindDescription)")
            }
            let single: [String]?
            do {
                single = try Template.singleReference(text)
            } catch {
                throw fail(forEach, "\(path).for_each", error.message)
            }
            guard let reference = single else {
                throw fail(forEach, "\(path).for_each", "expected \(example) (one reference), found \"\(text)\"")
            }
            guard reference.first != "item" && reference.first != "index" else {
                throw fail(
                    forEach, "\(path).for_each",
                    "\(Template.text(of: reference)): item and index exist only in the step's input; for_each "
                        + "may use the trigger, the steps before it and the vars")
            }
            step.forEach = text
        }
        if let concurrency = node["concurrency"] {
            let most = WorkflowLimits.mostConcurrency
            guard step.forEach != nil else {
                throw fail(concurrency, "\(path).concurrency", "concurrency applies only to a step with for_each")
            }
            guard case .scalar(.int(let n)) = concurrency.value, (1...most).contains(n) else {
                throw fail(
                    concurrency, "\(path).concurrency",
                    "expected an integer between 1 and \(most), found \(concurrency.kindDescription)")
            }
            step.concurrency = n
        }
    }

    /// The steps' needs form a graph without cycles, and each step's templates and condition use only the steps
    /// before it in that graph (its needs, and theirs): those are the steps that have ended when it starts; and only
    /// the vars the workflow declares.
    static func checkGraph(
        _ workflow: Workflow, nodes: [YAMLNode], fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) {
        let ids = workflow.steps.map(\.id)
        for (index, step) in workflow.steps.enumerated() {
            let node = nodes[index]
            for need in step.needs ?? [] {
                guard need != step.id else {
                    throw fail(node["needs"], "steps[\(index)].needs", "a step cannot need itself (\"\(need)\")")
                }
                guard ids.contains(need) else {
                    throw fail(
                        node["needs"], "steps[\(index)].needs",
                        "unknown step \"\(need)\"; the steps are \(ids.joined(separator: ", "))")
                }
            }
        }
        if let cycle = workflow.cycle(), let index = workflow.index(of: cycle[0]) {
            throw fail(
                nodes[index]["needs"] ?? nodes[index], "steps[\(index)].needs",
                "the needs form a cycle: \(cycle.joined(separator: " → "))")
        }
        let ancestors = workflow.ancestors()
        func check(_ reference: [String], step index: Int, key: String, kind: String) throws(RelayError) {
            let node = nodes[index][key]
            if reference.first == "item" || reference.first == "index" {
                guard key == "input", workflow.steps[index].forEach != nil else {
                    throw fail(
                        node, "steps[\(index)].\(key)",
                        "\(Template.text(of: reference)): item and index exist only in the input of a step with "
                            + "for_each")
                }
                return
            }
            if let problem = undeclaredVariable(reference, vars: workflow.vars) ?? unknownRunField(reference) {
                throw fail(node, "steps[\(index)].\(key)", problem)
            }
            guard reference.first == "steps" else { return }
            let target = reference.count >= 2 ? reference[1] : ""
            let shown = Template.text(of: reference)
            guard ids.contains(target) else {
                throw fail(
                    node, "steps[\(index)].\(key)",
                    "\(shown): unknown step \"\(target)\"; \(kind) may use the steps before it")
            }
            guard ancestors[workflow.steps[index].id]?.contains(target) == true else {
                throw fail(
                    node, "steps[\(index)].\(key)",
                    "\(shown): step \"\(target)\" does not come before this step; \(kind) may use the steps before "
                        + "it in the graph (its needs, and theirs)")
            }
        }
        for (index, step) in workflow.steps.enumerated() {
            // Parsed when the step was read, so this cannot fail here.
            for reference in (try? Template.references(in: step.input)) ?? [] {
                try check(reference, step: index, key: "input", kind: "a step")
            }
            for reference in step.when?.references ?? [] {
                try check(reference, step: index, key: "when", kind: "a condition")
            }
            if let forEach = step.forEach {
                for reference in (try? Template.references(in: .string(forEach))) ?? [] {
                    try check(reference, step: index, key: "for_each", kind: "for_each")
                }
            }
            if let builtin = step.builtin {
                for reference in (try? builtin.references()) ?? [] {
                    try check(reference, step: index, key: builtin.key, kind: "a step")
                }
            }
        }
    }

    /// The workflow's `output` may use the trigger, any step (all have ended when it is rendered) and the vars,
    /// nothing else.
    static func checkOutput(_ workflow: Workflow, node: YAMLNode?, fail: (YAMLNode?, String, String) -> RelayError)
        throws(RelayError)
    {
        guard let output = workflow.output else { return }
        let ids = workflow.steps.map(\.id)
        for reference in (try? Template.references(in: output)) ?? [] {
            let shown = Template.text(of: reference)
            switch reference.first {
            case "trigger": continue
            case "run":
                if let problem = unknownRunField(reference) { throw fail(node, "output", problem) }
            case "vars":
                if let problem = undeclaredVariable(reference, vars: workflow.vars) {
                    throw fail(node, "output", problem)
                }
            case "steps":
                let target = reference.count >= 2 ? reference[1] : ""
                guard ids.contains(target) else {
                    throw fail(
                        node, "output",
                        "\(shown): unknown step \"\(target)\"; the steps are \(ids.joined(separator: ", "))")
                }
            default:
                throw fail(
                    node, "output",
                    "\(shown): the output may use the trigger, the steps, the vars and the run, nothing else")
            }
        }
    }

    /// Why `reference` may not be used: it reads a field of `run` that does not exist; nil otherwise.
    static func unknownRunField(_ reference: [String]) -> String? {
        let fields = ["id", "workflow"]
        guard reference.first == "run", reference.count < 2 || !fields.contains(reference[1]) else { return nil }
        return "\(Template.text(of: reference)): the run has \(fields.map { "run.\($0)" }.joined(separator: " and "))"
    }

    /// `30s`, `500ms`, `2m`, `1h`, or a number of seconds, between `WorkflowLimits.shortestDuration` and
    /// `WorkflowLimits.longestDuration`. Anything else (`.inf`, `1e17s`, `0s`) is an error naming the line, never a
    /// trap: the value is checked as a finite `Double` before any conversion to an integer.
    static func duration(
        _ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> Duration {
        let range = "between 1 ms and \(WorkflowLimits.longestDurationDays) days"
        var seconds: Double?
        switch node.value {
        case .scalar(.int(let value)): seconds = Double(value)
        case .scalar(.double(let value)): seconds = value
        case .scalar(.string(let text)):
            let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
            if let (unit, factor) = units.first(where: { text.hasSuffix($0.0) }),
                let value = Double(text.dropLast(unit.count))
            {
                seconds = value * factor
            }
        default: break
        }
        guard let seconds, !seconds.isNaN else {
            throw fail(
                node, path,
                "expected a duration \(range) such as 30s, 500ms or 2m, found \(node.kindDescription)")
        }
        let longest = Double(WorkflowLimits.longestDuration.components.seconds)
        // Checked as a Double first: Int(_:) of an infinite or too large Double traps.
        guard seconds >= 0.001, seconds <= longest else {
            throw fail(node, path, "expected a duration \(range), found \(node.kindDescription)")
        }
        return .milliseconds(Int((seconds * 1000).rounded()))
    }
}
