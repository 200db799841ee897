import ArgumentParser
import Foundation
import RelayCore
import RelaySpec

/// `relay plugin check-value`: validate a JSON value against one of a spec's schemas, as the runtime would.
struct PluginCheckValueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-value",
        abstract: "Validate a JSON value against a spec's input, output, connection or state schema.",
        discussion: """
            Applies the runtime's rules: types, required keys (a required input may not be null or ""), enums, \
            items, $ref; extra properties are allowed, defaults are not injected, format is not checked. \
            Prints one line per problem (input.urls[2]: expected string, found integer); exit status 1 when any.
            """
    )

    @Argument(help: "A plugin.spec.yaml file, or a plugin directory that holds one.")
    var spec: String

    @Option(help: "The schema: connection, or KIND.NAME.PART such as actions.encode.input or tasks.t.state.")
    var schema: String

    @Option(help: "The JSON value; '-' reads standard input.")
    var json: String

    func run() throws {
        let loaded = try CLIFailure.wrap { try PluginSpec.load(path: SpecPaths.specFile(spec)) }
        let document = try CLIFailure.wrap { try SchemaGenerator(spec: loaded).document() }
        let parts = schema.split(separator: ".").map(String.init)
        var selected: JSONValue? = document
        for part in parts { selected = selected?[part] }
        guard let selected, parts.count == 1 || parts.count == 3 else {
            throw ValidationError(
                "no schema '\(schema)' in \(loaded.file); use connection or KIND.NAME.PART (e.g. "
                    + "actions.\(loaded.actions.first?.name ?? "name").input)"
            )
        }
        let text = json == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : json
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw CLIFailure("--json: not valid JSON: \(error)")
        }
        let part = parts.last!
        let options: SchemaValidator.Options = part == "input" ? .input : .standard
        let root = parts.count == 1 ? "connection" : part
        let problems = SchemaValidator(schema: selected, options: options).validate(value, at: JSONPath(root: root))
        for problem in problems { print(problem.description) }
        if !problems.isEmpty { throw ExitCode(1) }
        print("valid")
    }
}
