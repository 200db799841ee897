import ArgumentParser
import Foundation
import RelayCodegen
import RelaySpec

/// `relay plugin new --spec SPEC DIR`: a Swift plugin package generated from a spec.
struct PluginNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Generate a Swift plugin package from a plugin.spec.yaml, as insight-plugin create does for Python.",
        discussion: """
            Writes Package.swift, the spec, typed inputs and outputs for every action, trigger and task, the \
            connection, stubs, a test and the executable relay-plugin-<name> (run, test, info, sample, http). \
            The package depends on Relay by path: --relay-path is required and names a checkout of Relay's \
            source (Relay publishes no package URL or release yet to depend on by version).
            """
    )

    @Option(help: "The plugin.spec.yaml to generate from.")
    var spec: String

    @Argument(help: "The directory to write the package into.")
    var directory: String

    @Option(
        help: ArgumentHelp(
            "Required: the Relay source checkout the plugin depends on by path (there is no released package yet).",
            valueName: "path"))
    var relayPath: String

    @Flag(help: "Overwrite generated files that exist.")
    var force = false

    func run() throws {
        let specFile = SpecPaths.specFile(spec)
        let loaded = try CLIFailure.wrap { try PluginSpec.load(path: specFile) }
        let text = try String(contentsOfFile: specFile, encoding: .utf8)
        let generator = PluginGenerator(spec: loaded, specText: text, relayPath: relayPath)
        try CLIFailure.wrap { try generator.write(to: directory, force: force) }
        print(
            "wrote \(generator.files().count) files to \(directory): swift build there, then "
                + ".build/debug/\(generator.executableName) info"
        )
    }
}
