import ArgumentParser
import Foundation
import RelayCore
import RelayImport

/// `relay workflow import FILE.icon… --specs DIR`: InsightConnect exports → a Relay project directory.
struct WorkflowImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Translate InsightConnect workflow exports (.icon) into a Relay project.",
        discussion: """
            Writes OUT/workflows/<name>.yaml (a loop's body becomes a sub-workflow), OUT/plugins/<name>.yaml for \
            each plugin with a spec in --specs (run as InsightConnect's published image, docker run --rm -i \
            rapid7/<plugin>:<version>), OUT/connections/<name>.yaml to fill in for each plugin whose steps use a \
            connection (an existing one is kept), and OUT/import-report.md: per step whether it was translated and \
            why not, per plugin the versions used against the spec's and what differs. docs/insightconnect-import.md \
            describes the mapping. Exit status: 0 when every file was read, 1 when some could not be.
            """
    )

    @Argument(help: "InsightConnect export files (.icon).")
    var files: [String]

    @Option(help: "Directory of plugin specs: <dir>/<plugin>/plugin.spec.yaml.")
    var specs: String

    @Option(help: "The project directory to write.")
    var out: String = "imported"

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: specs, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--specs \(specs): no such directory")
        }
        let importer = WorkflowImporter(
            configuration: WorkflowImporter.Configuration(specsDirectory: specs, outputDirectory: out))
        let result = importer.translate(files: files)
        try CLIFailure.wrap { try importer.write(result) }
        for failure in result.report.failures {
            FileHandle.standardError.write(Data("relay: \(failure.message)\n".utf8))
        }
        if json {
            print(JSONWriter.pretty.string(result.report.json))
        } else {
            print(result.report.summary)
            print("Wrote \(out) (report: \((out as NSString).appendingPathComponent("import-report.md"))).")
        }
        if !result.report.failures.isEmpty { throw ExitCode(1) }
    }
}
