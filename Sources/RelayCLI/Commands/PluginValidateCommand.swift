import ArgumentParser
import Foundation
import RelayCore
import RelaySpec

/// `relay plugin validate SPEC|DIR`: InsightConnect's offline spec checks, one line per problem.
struct PluginValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check plugin specs as InsightConnect's offline validators do.",
        discussion: """
            Prints one line per problem, FILE:LINE: RULE: message. A directory is searched for plugin.spec.yaml \
            files (the directory itself, or each plugin directory below it). Exit status: 0 when every spec is \
            clean, 1 when any problem is found, 2 when nothing could be read. Rules: \
            \(SpecRule.allCases.map(\.rawValue).joined(separator: ", ")).
            """
    )

    @Argument(help: "Spec files or directories.")
    var paths: [String]

    @Flag(help: "Print a JSON document instead of lines.")
    var json = false

    @Option(help: "Rules to leave out (comma-separated), e.g. --skip example,ascii.")
    var skip: String?

    func run() throws {
        let skipped = Set((skip ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
        for rule in skipped where SpecRule(rawValue: rule) == nil {
            throw ValidationError(
                "unknown rule '\(rule)'; rules are \(SpecRule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var files: [String] = []
        for path in paths { files += try CLIFailure.wrap { try SpecPaths.specFiles(under: path) } }
        let linter = SpecLinter()
        var problems: [SpecProblem] = []
        for file in files {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                problems.append(
                    SpecProblem(file: file, line: 1, rule: .syntax, message: "cannot read the file as UTF-8 text"))
                continue
            }
            problems += linter.lint(yaml: text, file: file).filter { !skipped.contains($0.rule.rawValue) }
        }
        if json {
            let document: JSONValue = [
                "specs": .int(files.count),
                "problems": .array(problems.map(\.json)),
            ]
            print(JSONWriter.pretty.string(document))
        } else {
            for problem in problems { print(problem.description) }
            let flagged = Set(problems.map(\.file)).count
            FileHandle.standardError.write(
                Data(
                    "\(files.count) spec(s) checked, \(problems.count) problem(s) in \(flagged) spec(s)\n".utf8))
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}
