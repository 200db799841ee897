import RelayCore
import RelaySDK
import RelaySpec

/// Checks workflows against the plugins before anything runs: the trigger, every plugin and action exist, every
/// input key is one the action declares, required inputs are given, and inputs that are plain values (not
/// templates) fit their schema. Messages name the file and key.
public struct WorkflowValidator: Sendable {
    public let catalog: PluginCatalog
    public let connections: ConnectionStore

    public init(catalog: PluginCatalog, connections: ConnectionStore) {
        self.catalog = catalog
        self.connections = connections
    }

    public func problems(_ workflow: Workflow) -> [String] {
        var problems: [String] = []
        let file = workflow.file
        func add(_ path: String, _ message: String) { problems.append("\(file): \(path): \(message)") }
        if let trigger = workflow.trigger {
            if let entry = catalog[trigger.plugin], trigger.isTask {
                if entry.spec.task(named: trigger.trigger) == nil {
                    add(
                        "trigger.task",
                        "plugin \(trigger.plugin) has no task \"\(trigger.trigger)\"; it has "
                            + "\(list(entry.spec.tasks.map(\.name)))"
                    )
                }
            } else if let entry = catalog[trigger.plugin] {
                if entry.spec.trigger(named: trigger.trigger) == nil {
                    add(
                        "trigger.trigger",
                        "plugin \(trigger.plugin) has no trigger \"\(trigger.trigger)\"; it has "
                            + "\(list(entry.spec.triggers.map(\.name)))"
                    )
                } else {
                    checkInput(
                        trigger.input, schema: entry.schemas["triggers"]?[trigger.trigger]?["input"] ?? [:],
                        path: "trigger.input", add: add)
                    if let host = entry.executor as? PluginHost, !containsTemplate(trigger.input) {
                        for problem in host.plugin.problems(inTriggerInput: trigger.input, trigger: trigger.trigger) {
                            add("trigger.input.\(problem.key)", problem.message)
                        }
                    }
                }
            } else {
                add(
                    "trigger.plugin",
                    "unknown plugin \"\(trigger.plugin)\"; installed: \(list(catalog.entries.keys.sorted()))")
            }
            if let name = trigger.connection, connections[name] == nil {
                add("trigger.connection", "unknown connection \"\(name)\"")
            }
        }
        for (index, step) in workflow.steps.enumerated() {
            let path = "steps[\(index)]"
            // A sub-workflow's step is checked with the other workflows (`problems(in:)`); a built-in step was
            // checked when the file was read.
            if step.workflow != nil || step.builtin != nil { continue }
            guard let entry = catalog[step.plugin] else {
                add(
                    "\(path).plugin",
                    "unknown plugin \"\(step.plugin)\"; installed: \(list(catalog.entries.keys.sorted()))")
                continue
            }
            guard entry.spec.action(named: step.action) != nil else {
                add(
                    "\(path).action",
                    "plugin \(step.plugin) has no action \"\(step.action)\"; it has "
                        + "\(list(entry.spec.actions.map(\.name)))"
                )
                continue
            }
            if let name = step.connection {
                if let connection = connections[name] {
                    if connection.plugin != step.plugin {
                        add(
                            "\(path).connection",
                            "connection \"\(name)\" is for plugin \(connection.plugin), not \(step.plugin)")
                    }
                } else {
                    add("\(path).connection", "unknown connection \"\(name)\"")
                }
            }
            checkInput(
                step.input, schema: entry.schemas["actions"]?[step.action]?["input"] ?? [:], path: "\(path).input",
                add: add)
        }
        return problems
    }

    /// What only the set of workflows shows: a step's sub-workflow that does not exist, and workflows that call
    /// themselves, directly or through others (named as the chain of calls).
    public static func problems(in workflows: [Workflow]) -> [String] {
        var problems: [String] = []
        let byName = Dictionary(workflows.map { ($0.name, $0) }) { first, _ in first }
        for workflow in workflows {
            for (index, step) in workflow.steps.enumerated() {
                guard let name = step.workflow, byName[name] == nil else { continue }
                problems.append(
                    "\(workflow.file): steps[\(index)].workflow: unknown workflow \"\(name)\"; the workflows are "
                        + (byName.keys.sorted().joined(separator: ", ")))
            }
        }
        // A call graph without cycles: depth-first from each workflow, iteratively.
        var reported = Set<String>()
        for workflow in workflows {
            var path: [(name: String, next: Int)] = [(workflow.name, 0)]
            var visited: Set<String> = [workflow.name]
            while let top = path.last {
                let calls = (byName[top.name]?.steps ?? []).compactMap(\.workflow)
                guard top.next < calls.count else {
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let callee = calls[top.next]
                if callee == workflow.name {
                    let chain = path.map(\.name) + [callee]
                    if reported.insert(Set(chain).sorted().joined(separator: ",")).inserted {
                        let step = workflow.steps.firstIndex { $0.workflow == chain[1] } ?? 0
                        problems.append(
                            "\(workflow.file): steps[\(step)].workflow: the workflow calls itself: "
                                + chain.joined(separator: " → "))
                    }
                    continue
                }
                guard byName[callee] != nil, visited.insert(callee).inserted else { continue }
                path.append((callee, 0))
            }
        }
        return problems
    }

    private func checkInput(_ input: JSONValue, schema: JSONValue, path: String, add: (String, String) -> Void) {
        let properties = schema["properties"]?.objectValue ?? [:]
        guard case .object(let object) = input else {
            add(path, "expected a mapping of input names to values, found \(input.typeName)")
            return
        }
        for key in object.keys where properties[key] == nil {
            add("\(path).\(key)", "unknown input; the step takes \(list(properties.keys.sorted()))")
        }
        for case .string(let required) in schema["required"]?.arrayValue ?? [] where object[required] == nil {
            add("\(path).\(required)", "required input is missing")
        }
        for (key, value) in object {
            guard let property = properties[key], !containsTemplate(value) else { continue }
            let single: JSONValue = ["properties": [key: property], "definitions": schema["definitions"] ?? [:]]
            for problem in SchemaValidator(schema: single).validate([key: value].json, at: JSONPath(root: path)) {
                add(problem.path.description, problem.message)
            }
        }
    }

    private func containsTemplate(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): return text.contains("{{")
        case .array(let items): return items.contains(where: containsTemplate)
        case .object(let object): return object.values.contains(where: containsTemplate)
        default: return false
        }
    }

    private func list(_ names: [String]) -> String { names.isEmpty ? "none" : names.joined(separator: ", ") }
}

extension Dictionary where Key == String, Value == JSONValue {
    var json: JSONValue { .object(JSONObject(uniqueKeysWithValues: self.map { ($0.key, $0.value) })) }
}
