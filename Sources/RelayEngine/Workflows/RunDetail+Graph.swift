import Foundation
import RelayCore
import RelaySDK
import RelaySpec
import RelayStore

extension RunStore {
    /// One run with the graph of its workflow: from the version the run started with (kept in the run store), or
    /// for a run recorded before versions were kept, from the file of that name in `workflowsDirectory` as it is
    /// now. Nil when there is no such run.
    ///
    /// With a `catalog`, the secrets of the steps' inputs are masked (`RunDetail.maskSecretInputs`).
    public func runWithGraph(
        id: String, workflowsDirectory: String, catalog: PluginCatalog? = nil
    ) async throws -> RunDetail? {
        guard var run = try await run(id: id) else { return nil }
        var workflow: Workflow?
        if let hash = run.summary.version, let stored = try await workflowVersion(hash: hash) {
            workflow = try? WorkflowDecoder.decode(yaml: stored.source, file: stored.file)
        } else {
            workflow = WorkflowFiles.workflow(named: run.summary.workflow, in: workflowsDirectory)
        }
        if let workflow {
            run.graph = workflow.graph
            if let catalog { run.maskSecretInputs(workflow: workflow, catalog: catalog) }
        }
        return run
    }
}

extension RunDetail {
    /// Masks, as `********`, the values of the action steps' inputs that the plugin's spec declares secret
    /// (`password` and `credential_*` types: password-format fields of the action's input schema), wherever they
    /// appear in that attempt: input, output, error and log. A connection's secrets never reach a run (the worker
    /// masks them in what the plugin returns); an action that takes a password as input would otherwise show it.
    public mutating func maskSecretInputs(workflow: Workflow, catalog: PluginCatalog) {
        var schemas: [String: JSONValue] = [:]
        for step in workflow.steps where step.builtin == nil && step.workflow == nil {
            guard let schema = catalog[step.plugin]?.schemas["actions"]?[step.action]?["input"] else { continue }
            schemas[step.id] = schema
        }
        guard !schemas.isEmpty else { return }
        func masker(_ stepID: String, _ input: JSONValue?) -> SecretMasker? {
            guard let schema = schemas[stepID], let input else { return nil }
            let masker = SecretMasker(schema: schema, value: input, byKeyName: false)
            return masker.secrets.isEmpty ? nil : masker
        }
        for index in steps.indices {
            guard let masker = masker(steps[index].stepID, steps[index].input) else { continue }
            steps[index].input = steps[index].input.map(masker.mask)
            steps[index].output = steps[index].output.map(masker.mask)
            steps[index].error = steps[index].error.map(masker.mask)
            steps[index].log = steps[index].log.map(masker.mask)
        }
        for index in items.indices {
            guard let masker = masker(items[index].stepID, items[index].input) else { continue }
            items[index].input = items[index].input.map(masker.mask)
            items[index].output = items[index].output.map(masker.mask)
            items[index].error = items[index].error.map(masker.mask)
            items[index].log = items[index].log.map(masker.mask)
        }
    }
}

extension Workflow {
    /// Every step with the steps it needs and its kind, in the workflow's order: what a run's page and a workflow's
    /// page draw.
    public var graph: [RunDetail.GraphStep] {
        steps.indices.map { index in
            let step = steps[index]
            let kind = step.builtin?.key ?? (step.workflow == nil ? "action" : "workflow")
            return RunDetail.GraphStep(step: step.id, needs: needs(at: index), kind: kind)
        }
    }
}

/// Workflow files read without a valid project (showing a run needs none).
public enum WorkflowFiles {
    /// The workflow of that name among the files of `directory`, or nil (files that do not read are passed over).
    public static func workflow(named name: String, in directory: String) -> Workflow? {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            if let workflow = try? WorkflowDecoder.load(path: path), workflow.name == name { return workflow }
        }
        return nil
    }
}
