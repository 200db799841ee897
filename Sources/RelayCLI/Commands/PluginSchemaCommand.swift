import ArgumentParser
import Foundation
import RelayCore
import RelaySpec

/// `relay plugin schema SPEC`: the JSON schemas of a spec, laid out like the reference generator's files.
struct PluginSchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON schemas of a plugin spec, exactly as insight-plugin generates them.",
        discussion: """
            The document is {"connection": S, "actions": {name: {"input": S, "output": S}}, "triggers": {...}, \
            "tasks": {name: {"input", "output", "state"}}}, written like the reference files \
            (json.dumps(indent=1, sort_keys=True)).
            """
    )

    @Argument(help: "A plugin.spec.yaml file, or a plugin directory that holds one.")
    var spec: String

    func run() throws {
        let loaded = try CLIFailure.wrap { try PluginSpec.load(path: SpecPaths.specFile(spec)) }
        let document = try CLIFailure.wrap { try SchemaGenerator(spec: loaded).document() }
        // Exactly the bytes of the reference files (no final newline), plus a newline on a terminal.
        print(JSONWriter.reference.string(document), terminator: isatty(STDOUT_FILENO) == 1 ? "\n" : "")
    }
}
