import Foundation
import OrderedCollections
import RelayCore

/// `relay workflow import`: InsightConnect exports → a Relay project directory (`workflows/`, `plugins/`,
/// `connections/`) and `import-report.md`. Translating reads the exports and the specs; writing is separate, so
/// that tests and the CLI can look at the result first.
public struct WorkflowImporter: Sendable {
    public struct Configuration: Sendable {
        /// Where the specs are: `<dir>/<plugin>/plugin.spec.yaml`.
        public var specsDirectory: String
        /// The project directory written.
        public var outputDirectory: String

        public init(specsDirectory: String = ".", outputDirectory: String = "imported") {
            self.specsDirectory = specsDirectory
            self.outputDirectory = outputDirectory
        }
    }

    /// Plugins Relay runs natively with the Python originals' results: no `plugins/` file is written for them, so
    /// that the native one runs.
    public static let nativePlugins: Set<String> = ["base64", "hashit", "type_converter", "sleep"]

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// Reads and translates every file; an export that cannot be read is reported, the others go on.
    public func translate(files: [String]) -> ImportResult {
        let specs = SpecCatalog(directory: configuration.specsDirectory)
        var result = ImportResult()
        var names: Set<String> = []
        var uses: [PluginUse] = []
        var missingOutputs: [MissingOutput] = []
        for file in files {
            let export: ICONExport
            do {
                export = try ICONExport.load(path: file)
            } catch {
                result.report.failures.append(FileFailure(file: file, message: error.message))
                continue
            }
            let name = WorkflowTranslator.unique(
                WorkflowTranslator.slug(export.workflow.name, separator: "-", fallback: "workflow", limit: 80),
                separator: "-", taken: &names)
            var translation = WorkflowTranslator(export: export, specs: specs, name: name).translate()
            let fileName = (file as NSString).lastPathComponent
            if translation.workflows[0].steps.isEmpty {
                translation.report.gaps.append(
                    "no step could be translated, so no workflow file is written (Relay needs at least one step)")
                translation.report.workflowFiles = []
            } else {
                let status = summary(translation.report)
                translation.workflows[0].header = [
                    "Imported from \(fileName) (InsightConnect \(export.komandVersion ?? "export")) by relay workflow "
                        + "import: \(status). import-report.md says what was not translated and why."
                ]
                for index in translation.workflows.indices.dropFirst() {
                    translation.workflows[index].header = [
                        "Imported from \(fileName) by relay workflow import: a loop's body, run by workflow \(name)."
                    ]
                }
                result.workflows += translation.workflows
                for workflow in translation.workflows {
                    result.files["workflows/\(workflow.name).yaml"] = workflow.yaml
                }
            }
            result.report.workflows.append(translation.report)
            uses += translation.uses
            missingOutputs += translation.missingOutputs
        }
        let plugins = pluginReports(uses: uses, missingOutputs: missingOutputs, specs: specs)
        result.report.plugins = plugins.reports
        for (path, text) in plugins.files { result.files[path] = text }
        result.files["import-report.md"] = result.report.markdown
        return result
    }

    func summary(_ report: WorkflowReport) -> String {
        let translated = report.steps.filter { $0.status != .notTranslated }.count
        return report.isComplete
            ? "translated in full" : "\(translated) of \(report.steps.count) steps translated, partially"
    }

    /// Per plugin: the versions used, the spec found, what differs, and its files.
    func pluginReports(uses: [PluginUse], missingOutputs: [MissingOutput], specs: SpecCatalog) -> (
        reports: [PluginReport], files: OrderedDictionary<String, String>
    ) {
        var grouped: OrderedDictionary<String, [PluginUse]> = [:]
        for use in uses.sorted(by: { $0.plugin.slug < $1.plugin.slug }) {
            grouped[use.plugin.slug, default: []].append(use)
        }
        var reports: [PluginReport] = []
        var files: OrderedDictionary<String, String> = [:]
        for (name, uses) in grouped {
            let versions = Array(Set(uses.map(\.plugin.version))).sorted {
                $0.compare($1, options: .numeric) == .orderedAscending
            }
            var report = PluginReport(name: name, usedVersions: versions)
            var workflows: OrderedSet<String> = []
            for use in uses {
                report.components[use.component, default: 0] += 1
                workflows.append(use.workflow)
                report.needsConnection = report.needsConnection || use.needsConnection
            }
            report.workflows = Array(workflows)
            report.differences = differences(uses)
            var reads: [String: Int] = [:]
            for missing in missingOutputs where missing.plugin == name {
                reads["\(missing.action).\(missing.field)", default: 0] += 1
            }
            for (field, count) in reads.sorted(by: { $0.key < $1.key }) {
                report.differences.append("output \(field) is read (\(count)×) but not in the spec's output")
            }
            switch specs.spec(name) {
            case .failure(let gap):
                report.specProblem = gap.reason
            case .success(let loaded):
                report.specPath = loaded.path
                report.specVersion = loaded.spec.version
                if let major = loaded.spec.version?.split(separator: ".").first,
                    versions.contains(where: { $0.split(separator: ".").first != major })
                {
                    report.differences.append(
                        "the major version differs (built with \(versions.joined(separator: ", ")), spec "
                            + "\(loaded.spec.version ?? "")): outputs the workflows read may have changed")
                }
                if Self.nativePlugins.contains(name) {
                    report.differences.append(
                        "runs on Relay's native \(name) plugin (the Python original's results); no plugins/ file")
                } else {
                    files["plugins/\(name).yaml"] = PluginFiles.plugin(
                        name: name, loaded: loaded, usedVersions: versions)
                    report.files.append("plugins/\(name).yaml")
                }
                if report.needsConnection {
                    if loaded.spec.connection.isEmpty {
                        report.differences.append(
                            "its steps use a connection, but the spec has no connection fields; none is written")
                    } else {
                        files["connections/\(name).yaml"] = PluginFiles.connection(
                            name: name, loaded: loaded, workflows: report.workflows)
                        report.files.append("connections/\(name).yaml")
                    }
                }
            }
            reports.append(report)
        }
        return (reports, files)
    }

    /// What differs between the versions used and the spec, as it matters to the steps.
    func differences(_ uses: [PluginUse]) -> [String] {
        var out: [String] = []
        func count(_ select: (PluginUse) -> [String]) -> OrderedDictionary<String, Int> {
            var counts: OrderedDictionary<String, Int> = [:]
            for use in uses { for key in select(use) { counts["\(use.component).\(key)", default: 0] += 1 } }
            counts.sort { $0.key < $1.key }
            return counts
        }
        var missing: OrderedDictionary<String, Int> = [:]
        for use in uses where use.componentMissing {
            missing["\(use.kind == .action ? "action" : "trigger") \(use.component)", default: 0] += 1
        }
        for (component, steps) in missing { out.append("\(component) is gone (\(steps) step(s) left out)") }
        for (input, steps) in count(\.goneInputs) {
            out.append("input \(input) is gone (dropped from \(steps) step(s))")
        }
        for (input, steps) in count(\.missingRequired) {
            out.append("\(input) is a new required input without a default (\(steps) step(s) lack it)")
        }
        for (input, steps) in count(\.filledDefaults) {
            out.append("\(input) is a new required input (set to the spec's default in \(steps) step(s))")
        }
        return out
    }

    /// Writes the project: workflows, plugins and the report are (re)written; a connection file that exists is
    /// kept (it may hold what was filled in since the last import).
    public func write(_ result: ImportResult) throws(RelayError) {
        let root = configuration.outputDirectory
        let manager = FileManager.default
        for (relative, text) in result.files {
            let path = (root as NSString).appendingPathComponent(relative)
            if relative.hasPrefix("connections/"), manager.fileExists(atPath: path) { continue }
            do {
                try manager.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw RelayError(.io, "\(path): cannot be written: \(error.localizedDescription)")
            }
        }
    }
}

/// What an import produced: the workflows, every file's text by its path in the project, and the report.
public struct ImportResult: Sendable {
    public var workflows: [ImportedWorkflow] = []
    public var files: OrderedDictionary<String, String> = [:]
    public var report = ImportReport()

    public init() {}
}
