import ArgumentParser
import Foundation
import RelayCore
import RelayStore

/// `relay artifacts list|show`: the global artifacts, named lists that `global_artifact` steps append to and look up
/// across runs.
struct ArtifactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts",
        abstract: "Inspect global artifacts: the named lists global_artifact steps keep across runs.",
        subcommands: [ArtifactsListCommand.self, ArtifactsShowCommand.self])
}

struct ArtifactsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Every global artifact: name, entries, last change.")
    @Option(help: "The project directory.") var dir: String = "."
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let artifacts = try await ProjectDatabase.runStore(dir).globalArtifacts()
        if json {
            print(JSONWriter.pretty.string(.array(artifacts.map(\.json))))
            return
        }
        for artifact in artifacts {
            print("\(artifact.name)  \(artifact.entries) entries  updated \(RunTime.text(artifact.updatedAt))")
        }
    }
}

struct ArtifactsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "The entries of a global artifact, oldest first: one JSON line each.")
    @Argument(help: "The global artifact's name.") var name: String
    @Option(help: "The project directory.") var dir: String = "."
    @Flag(help: "JSON output: one array.") var json = false

    func run() async throws {
        let store = try ProjectDatabase.runStore(dir)
        guard let entries = try await store.globalArtifact(name: name) else {
            let names = try await store.globalArtifacts().map { "\"\($0.name)\"" }
            throw CLIFailure(
                "no global artifact named \"\(name)\"; "
                    + (names.isEmpty ? "there are none" : "global artifacts: \(names.joined(separator: ", "))"))
        }
        if json {
            print(JSONWriter.pretty.string(.array(entries)))
            return
        }
        for entry in entries { print(JSONWriter.compact.string(entry)) }
    }
}
