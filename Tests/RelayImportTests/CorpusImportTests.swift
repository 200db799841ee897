import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySpec
import Testing

@testable import RelayImport

/// The 98 public exports (../shared/corpus/insightconnect-workflows), read by path, imported with the corpus's
/// specs.
@Suite(.enabled(if: CorpusPaths.isPresent, "the workflow corpus or its specs are not beside the package"))
struct CorpusImportTests {
    static let result: ImportResult = WorkflowImporter(
        configuration: WorkflowImporter.Configuration(specsDirectory: CorpusPaths.specs, outputDirectory: "unused")
    ).translate(files: CorpusPaths.exports)

    @Test func everyExportIsReadAndEveryStepIsTranslatedOrReportedWithAReason() throws {
        let report = Self.result.report
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.workflows.count == CorpusPaths.exports.count)
        for (file, workflow) in zip(CorpusPaths.exports, report.workflows) {
            let export = try ICONExport.load(path: file)
            let steps = export.workflow.steps.values.filter { $0.type != .trigger }
            #expect(workflow.steps.count == steps.count, "\(workflow.file): every step is in the report")
            #expect(Set(workflow.steps.map(\.nodeID)) == Set(steps.map(\.nodeID)), "\(workflow.file)")
            for step in workflow.steps where step.status != .translated {
                #expect(!step.reasons.isEmpty, "\(workflow.file): \(step.name) (\(step.status)) has no reason")
                #expect(step.reasons.allSatisfy { !$0.isEmpty })
            }
            if workflow.trigger.translation == nil { #expect(workflow.trigger.gap != nil, "\(workflow.file)") }
        }
        print("relay workflow import on the corpus: \(report.summary)")
        var reasons: [String: Int] = [:]
        for workflow in report.workflows {
            for step in workflow.steps where step.status != .translated {
                reasons[
                    "\(step.type) \(step.status.rawValue): " + String((step.reasons.first ?? "").prefix(90)), default: 0
                ] += 1
            }
        }
        for (reason, count) in reasons.sorted(by: { $0.value > $1.value }).prefix(25) { print("  \(count)× \(reason)") }
        // Per step type: steps, translated, with a gap, not translated (docs/insightconnect-import.md's table).
        var types: [String: [RelayImport.StepStatus: Int]] = [:]
        for workflow in report.workflows {
            for step in workflow.steps { types[step.type, default: [:]][step.status, default: 0] += 1 }
        }
        let byCount = types.map { (type: $0.key, counts: $0.value, total: $0.value.values.reduce(0, +)) }
            .sorted { $0.total > $1.total }
        for row in byCount {
            let translated = row.counts[RelayImport.StepStatus.translated] ?? 0
            let partial = row.counts[RelayImport.StepStatus.partial] ?? 0
            let left = row.counts[RelayImport.StepStatus.notTranslated] ?? 0
            print(
                "  \(row.type): \(row.total) steps, \(translated) translated, \(partial) with a gap, "
                    + "\(left) not translated"
            )
        }
        let triggers = report.workflows.filter { $0.trigger.translation != nil }.count
        print("  triggers translated: \(triggers) of \(report.workflows.count)")
    }

    /// Every workflow file reads back with Relay's own YAML reader as the value the importer meant: names,
    /// needs, conditions and every input, whatever the text in it (quotes, `yes`, `12:30`, multi-line Markdown).
    @Test func everyWorkflowFileReadsBackAsWritten() throws {
        for workflow in Self.result.workflows {
            let yaml = workflow.yaml
            let root = try YAMLDocument.parse(yaml, file: workflow.name)
            #expect(root["name"]?.string == workflow.name)
            let nodes = try #require(root["steps"]?.sequence, "\(workflow.name)")
            #expect(nodes.count == workflow.steps.count)
            for (node, step) in zip(nodes, workflow.steps) {
                #expect(node["id"]?.string == step.id)
                if let kind = step.kind {
                    #expect(node[kind.key]?.json == kind.value, "\(workflow.name).\(step.id): reads back differently")
                    #expect(node["input"] == nil)
                } else {
                    #expect(
                        node["input"]?.json == step.input, "\(workflow.name).\(step.id): input reads back differently")
                }
                #expect(node["needs"]?.json == .array(step.needs.map(JSONValue.string)))
                #expect(node["when"]?.string == step.when, "\(workflow.name).\(step.id)")
                #expect(node["for_each"]?.string == step.forEach)
            }
            if let trigger = workflow.trigger { #expect(root["trigger"]?["input"]?.json == trigger.input) }
            #expect(root["output"]?.json == workflow.output)
        }
    }

    /// Every workflow file written, whatever its plugins, reads with Relay's `WorkflowDecoder`: the built-in steps
    /// (match patterns, text templates, decisions, conditions) are checked without any plugin's spec.
    @Test func everyImportedWorkflowDecodes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-import-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try WorkflowImporter(
            configuration: WorkflowImporter.Configuration(
                specsDirectory: CorpusPaths.specs, outputDirectory: directory.path)
        ).write(Self.result)
        var failures: [String] = []
        for file in Self.result.report.workflows.flatMap(\.workflowFiles) {
            do throws(RelayError) {
                _ = try WorkflowDecoder.load(path: directory.appendingPathComponent(file).path)
            } catch {
                failures.append(error.message.replacingOccurrences(of: directory.path + "/", with: ""))
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// Relay's own checks (`relay workflow validate`: WorkflowDecoder, then WorkflowValidator against the plugins'
    /// schemas) on every imported workflow whose plugins all have a spec. Connections are given (the imported
    /// files hold null placeholders, which `Project.load` rightly refuses until they are filled in).
    @Test func importedWorkflowsWithAllSpecsPassRelaysValidation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-import-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let importer = WorkflowImporter(
            configuration: WorkflowImporter.Configuration(
                specsDirectory: CorpusPaths.specs, outputDirectory: directory.path))
        try importer.write(Self.result)
        var catalog = PluginCatalog(native: try NativePlugins.all())
        try catalog.registerExternal(in: directory.appendingPathComponent("plugins").path)
        let connections = ConnectionStore(
            connections: Self.result.report.plugins.filter(\.needsConnection).map {
                ConnectionStore.Connection(name: $0.name, plugin: $0.name, parameters: [:])
            })
        let validator = WorkflowValidator(catalog: catalog, connections: connections)
        var checked = 0
        var problems: [String] = []
        var unexplained: [String] = []
        var decoded: [Workflow] = []
        for report in Self.result.report.workflows where report.pluginsWithoutSpec.isEmpty {
            for file in report.workflowFiles {
                let path = directory.appendingPathComponent(file).path
                checked += 1
                do throws(RelayError) {
                    let workflow = try WorkflowDecoder.load(path: path)
                    decoded.append(workflow)
                    for problem in validator.problems(workflow) {
                        problems.append(problem)
                        if !Self.isReported(problem, workflow: workflow, report: report) { unexplained.append(problem) }
                    }
                } catch {
                    problems.append(error.message)
                    unexplained.append(error.message)
                }
            }
        }
        let set = WorkflowValidator.problems(in: decoded)
        problems += set
        unexplained += set
        print(
            "validation of \(checked) imported workflow files whose plugins all have specs: \(problems.count) "
                + "problem(s)"
        )
        for problem in problems { print("  \(problem.replacingOccurrences(of: directory.path + "/", with: ""))") }
        #expect(unexplained.isEmpty, "problems the import report does not name")
    }

    /// Whether the report already names a validation problem: a required input, new in the spec's version, that
    /// the export has no value for (`steps[0].input.quarantineState: required input is missing`, a gap of its
    /// step), or a trigger input that reads a workflow variable still null (`trigger.input.team_name: expected
    /// string, found null`, a note of the trigger: variables are to fill in, like connections).
    static func isReported(_ problem: String, workflow: Workflow, report: WorkflowReport) -> Bool {
        // A trigger input that reads a workflow variable, null until filled in.
        if problem.contains(": trigger.input."), problem.hasSuffix(", found null"),
            report.trigger.notes.contains(where: { $0.contains("reads the workflow variables") })
        {
            return true
        }
        guard let match = problem.firstMatch(of: /steps\[(\d+)\]\.input\.([^:]+): required input is missing/),
            let index = Int(match.1), workflow.steps.indices.contains(index)
        else { return false }
        let id = workflow.steps[index].id
        return report.steps.contains { step in
            step.id == id && step.reasons.contains { $0.contains("required input \"\(match.2)\"") }
        }
    }
}
