import Dispatch
import Foundation
import Logging
import RelayCore

/// Hot reload: reads the workflow files (`DIR/workflows/*.yaml|yml`) every `interval`; when they differ from what
/// was last applied and have stayed the same for one more interval (a file caught half-written is not reported),
/// applies `WorkflowReload` to them and replaces the registry's current set, which the dispatcher reads at every
/// event and the trigger host follows. Files are compared by content, so an edit within the same second as the
/// last one is seen.
///
/// Each reload that changes the set is logged at info (what was added, changed, removed) and counted in
/// `workflowReloads`; each file found invalid is logged at error with the decoder's or validator's messages
/// (`file:line: key: reason`) and counted in `workflowReloadErrors`, once per distinct content.
///
/// Shutdown: cancellation ends the loop between two polls; a reload under way finishes first (it does not wait).
public final class WorkflowWatcher: Sendable {
    let layout: ProjectLayout
    let registry: WorkflowRegistry
    let validator: WorkflowValidator
    let interval: Duration
    let metrics: PipelineMetrics
    let logger: Logger
    /// Reading the files and checking them is blocking and CPU work: kept off Swift's cooperative pool.
    private let queue = DispatchQueue(label: "relay.workflow-watcher")

    public init(
        layout: ProjectLayout, registry: WorkflowRegistry, validator: WorkflowValidator,
        interval: Duration = .seconds(1), metrics: PipelineMetrics = PipelineMetrics(),
        logger: Logger = Logger(label: "relay.workflows")
    ) {
        self.layout = layout
        self.registry = registry
        self.validator = validator
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        var active = Dictionary(registry.workflows.map { ($0.file, $0) }) { first, _ in first }
        var applied: [WorkflowSourceFile]?
        var seen: [WorkflowSourceFile]?
        var reported: [String: WorkflowReload.Problem] = [:]
        while !Task.isCancelled {
            let files = await offPool { [layout] in Self.read(layout) }
            if files != applied {
                if files == seen {
                    let reload = await offPool { [validator, active] in
                        WorkflowReload.apply(previous: active, files: files, validator: validator)
                    }
                    if reload.changesAnything { registry.replace(with: reload.workflows) }
                    report(reload, reported: &reported)
                    active = reload.active
                    applied = files
                } else {
                    seen = files
                }
            }
            try await Task.sleep(for: interval)
        }
    }

    /// Every workflow file of the directory, with its text.
    static func read(_ layout: ProjectLayout) -> [WorkflowSourceFile] {
        layout.workflowFiles().map { path in
            WorkflowSourceFile(
                path: path, text: FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
            )
        }
    }

    private func report(_ reload: WorkflowReload, reported: inout [String: WorkflowReload.Problem]) {
        var now: [String: WorkflowReload.Problem] = [:]
        for problem in reload.problems {
            now[problem.file] = problem
            // Once per content of the file: not again when another file's change reloads it (the list of workflows
            // some messages end with may have changed meanwhile).
            if let before = reported[problem.file], before.text == problem.text { continue }
            metrics.workflowReloadFailed()
            let outcome =
                problem.active.map {
                    "workflow \($0.name) (\(WorkflowVersion($0).shortHash)) stays active as it was"
                } ?? "nothing is loaded from it"
            logger.error(
                "workflow file \(problem.file) is invalid; \(outcome): \(problem.messages.joined(separator: "; "))",
                metadata: ["workflow.file": "\(problem.file)"])
        }
        reported = now
        guard reload.changesAnything else { return }
        metrics.workflowsReloaded(reload.added.count + reload.changed.count + reload.removed.count)
        func names(_ workflows: [Workflow]) -> String {
            workflows.map { "\($0.name) (\(WorkflowVersion($0).shortHash))" }.joined(separator: ", ")
        }
        let parts = [("added", reload.added), ("changed", reload.changed), ("removed", reload.removed)]
            .filter { !$0.1.isEmpty }.map { "\($0.0) \(names($0.1))" }
        logger.info(
            "workflows reloaded: \(parts.joined(separator: "; "))",
            metadata: ["workflows.generation": "\(registry.generation)"])
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}
