import Foundation
import RelayCore
import RelaySpec
import RelayStore

extension RunStore {
    /// One run with the graph of its workflow: from the version the run started with (kept in the run store), or
    /// for a run recorded before versions were kept, from the file of that name in `workflowsDirectory` as it is
    /// now. Nil when there is no such run.
    public func runWithGraph(id: String, workflowsDirectory: String) async throws -> RunDetail? {
        guard var run = try await run(id: id) else { return nil }
        var workflow: Workflow?
        if let hash = run.summary.version, let stored = try await workflowVersion(hash: hash) {
            workflow = try? WorkflowDecoder.decode(yaml: stored.source, file: stored.file)
        } else {
            workflow = WorkflowFiles.workflow(named: run.summary.workflow, in: workflowsDirectory)
        }
        if let workflow { run.graph = workflow.graph }
        return run
    }
}

extension Workflow {
    /// Every step with the steps it needs, in the workflow's order: what a run's page and a workflow's page draw.
    public var graph: [RunDetail.GraphStep] {
        steps.indices.map { RunDetail.GraphStep(step: steps[$0].id, needs: needs(at: $0)) }
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
