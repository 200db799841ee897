import ArgumentParser
import Foundation
import RelayCore
import RelayStore

/// `relay runs artifact RUN_ID [NAME]`: the content of a document a run's `artifact` step kept, as it is (so that
/// `> summary.md` gives the file).
struct RunsArtifactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifact",
        abstract: "Print an artifact a run kept (its content as it is); NAME may be omitted when the run has one.")
    @Argument(help: "The run id.") var id: String
    @Argument(help: "The artifact's name, or the id of the step that made it.") var name: String?
    @Option(help: "The project directory.") var dir: String = "."
    @Flag(help: "JSON output: name, step, format, size, created, content.") var json = false

    func run() async throws {
        guard let run = try await ProjectDatabase.runStore(dir).run(id: id) else {
            throw CLIFailure("no run \(id)")
        }
        let artifact = try Self.artifact(named: name, in: run.artifacts, runID: id)
        if json {
            print(JSONWriter.pretty.string(artifact.json))
        } else {
            FileHandle.standardOutput.write(Data(artifact.content.utf8))
        }
    }

    /// The artifact called `name` (by its name, else by its step's id), or the only one when `name` is nil.
    static func artifact(named name: String?, in artifacts: [RunArtifact], runID: String) throws -> RunArtifact {
        let listed = artifacts.map { "\"\($0.name)\" (step \($0.stepID))" }.joined(separator: ", ")
        guard !artifacts.isEmpty else { throw CLIFailure("run \(runID) has no artifacts") }
        guard let name else {
            guard artifacts.count == 1 else {
                throw CLIFailure("run \(runID) has \(artifacts.count) artifacts; name one: \(listed)")
            }
            return artifacts[0]
        }
        var matches = artifacts.filter { $0.name == name }
        if matches.isEmpty { matches = artifacts.filter { $0.stepID == name } }
        guard matches.count <= 1 else {
            throw CLIFailure(
                "run \(runID) has \(matches.count) artifacts named \"\(name)\": "
                    + matches.map { "step \($0.stepID)" }.joined(separator: ", ") + "; name one by its step id")
        }
        guard let artifact = matches.first else {
            throw CLIFailure("run \(runID) has no artifact named \"\(name)\"; its artifacts: \(listed)")
        }
        return artifact
    }
}
