import Foundation
import Hummingbird
import RelayCore
import RelayStore

/// `GET /workflows`, `GET /workflows/{name}`, `POST /workflows/{name}/runs`.
extension OperatorAPI {
    func addWorkflowRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.route(.get, "/workflows") { _, _ -> Response in
            let overview = try await self.workflowOverview()
            var entries: [JSONValue] = []
            for entry in overview {
                var json = entry.json
                if let name = entry.workflow?.name {
                    json["runs"] = try await self.recentCounts(of: name)
                }
                entries.append(.object(json))
            }
            return APIResponse.json(["workflows": .array(entries)])
        }
        api.route(.get, "/workflows/{name}") { _, context -> Response in
            let name = try context.pathParameter("name")
            guard let entry = try await self.workflowOverview().first(where: { $0.workflow?.name == name }),
                let workflow = entry.workflow
            else {
                throw APIError(.notFound, "no workflow named \"\(name)\" is loaded")
            }
            var json = entry.json
            json["runs"] = try await self.recentCounts(of: name)
            json["source"] = .string(workflow.source)
            json["steps"] = .array(workflow.steps.indices.map { Self.stepJSON(workflow, at: $0) })
            let graph = workflow.graph
            json["graph"] = .array(graph.map(\.json))
            json["layout"] = RunGraphLayout(graph: graph).json
            json["versions"] = .array(try await self.store.workflowVersions(name: name, limit: 50).map(\.json))
            json["recent_runs"] = .array(
                try await self.store.runs(matching: RunQuery(workflow: name, limit: 10)).runs.map(\.json))
            return APIResponse.json(.object(json))
        }
        api.route(.post, "/workflows/{name}/runs") { request, context -> Response in
            let name = try context.pathParameter("name")
            guard self.registry.named(name) != nil else {
                throw APIError(.notFound, "no workflow named \"\(name)\" is loaded")
            }
            let body = try await APIRequestBody.json(request, limit: self.configuration.bodyLimit) ?? [:]
            let (event, runID) = ManualRun.event(workflow: name, body: body)
            try await self.transport.publish([event.message])
            return APIResponse.json(
                ["run_id": .string(runID), "event_id": .string(event.id), "workflow": .string(name)],
                status: .accepted)
        }
    }

    /// A workflow as the list shows it: the active version of a file (if any) and the file's problems.
    struct WorkflowEntry {
        var file: String
        var workflow: Workflow?
        var problems: [String]

        var json: JSONObject {
            var json: JSONObject = [
                "file": .string((file as NSString).lastPathComponent), "valid": .bool(problems.isEmpty),
                "problems": .array(problems.map(JSONValue.string)),
            ]
            if let workflow {
                json["name"] = .string(workflow.name)
                json["version"] = .string(WorkflowVersion(workflow).hash)
                json["steps_count"] = .int(workflow.steps.count)
                json["trigger"] = workflow.trigger.map(OperatorAPI.triggerJSON) ?? .null
                json["timeout_seconds"] = workflow.timeout.map { .double($0 / .seconds(1)) } ?? .null
            } else {
                json["name"] = .null
            }
            return json
        }
    }

    /// The active workflows (the registry's current set) and every file of the workflows directory, read now and
    /// checked as a reload would: a file that does not apply is listed with its problems.
    func workflowOverview() async throws -> [WorkflowEntry] {
        let current = registry.workflows
        let active = Dictionary(current.map { ($0.file, $0) }) { first, _ in first }
        let files = WorkflowWatcher.read(layout)
        let reload = WorkflowReload.apply(
            previous: active, files: files, validator: WorkflowValidator(catalog: catalog, connections: connections))
        let problems = Dictionary(reload.problems.map { ($0.file, $0.messages) }) { first, _ in first }
        var entries: [WorkflowEntry] = []
        var listed = Set<String>()
        for workflow in current.sorted(by: { $0.name < $1.name }) {
            listed.insert(workflow.file)
            entries.append(
                WorkflowEntry(file: workflow.file, workflow: workflow, problems: problems[workflow.file] ?? []))
        }
        for problem in reload.problems where !listed.contains(problem.file) {
            entries.append(WorkflowEntry(file: problem.file, workflow: nil, problems: problem.messages))
        }
        return entries
    }

    func recentCounts(of name: String) async throws -> JSONValue {
        let since = Date().timeIntervalSince1970 - configuration.recentRuns / .seconds(1)
        let counts = try await store.runCounts(workflow: name, since: since)
        var json: JSONObject = ["since": .string(RunTime.text(since))]
        for status in RunStatus.allCases { json[status.rawValue] = .int(counts[status] ?? 0) }
        return .object(json)
    }

    static func triggerJSON(_ binding: TriggerBinding) -> JSONValue {
        var json: JSONObject = [
            "plugin": .string(binding.plugin), binding.isTask ? "task" : "trigger": .string(binding.trigger),
            "instance": .string(binding.instanceID), "input": binding.input,
            "connection": binding.connection.map(JSONValue.string) ?? .null,
        ]
        if let every = binding.every { json["every_seconds"] = .double(every / .seconds(1)) }
        if let schedule = binding.schedule { json["schedule"] = .string(schedule) }
        return .object(json)
    }

    /// One step as the workflow page draws it: id, what it runs, the steps it needs, and how it runs.
    static func stepJSON(_ workflow: Workflow, at index: Int) -> JSONValue {
        let step = workflow.steps[index]
        var json: JSONObject = [
            "id": .string(step.id), "needs": .array(workflow.needs(at: index).map(JSONValue.string)),
        ]
        if let builtin = step.builtin {
            json["kind"] = .string(builtin.key)
        } else if let child = step.workflow {
            json["kind"] = "workflow"
            json["workflow"] = .string(child)
        } else {
            json["kind"] = "action"
            json["plugin"] = .string(step.plugin)
            json["action"] = .string(step.action)
            json["connection"] = step.connection.map(JSONValue.string) ?? .null
        }
        if let when = step.when { json["when"] = .string(when.description) }
        if let forEach = step.forEach {
            json["for_each"] = .string(forEach)
            json["concurrency"] = .int(step.concurrency)
        }
        json["continue_on_failure"] = .bool(step.continueOnFailure)
        return .object(json)
    }
}
