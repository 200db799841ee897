import Foundation
import RelayCore
import RelaySpec
import Testing

@testable import RelayImport

/// Exports come from outside: malformed or hostile ones are errors naming the file and the place, never a crash.
@Suite struct HostileExportTests {
    func error(_ text: String) -> String? {
        do {
            _ = try ICONExport.decode(bytes: Array(text.utf8), file: "bad.icon")
            return nil
        } catch {
            return error.message
        }
    }

    @Test func notJSONNamesTheFileLineAndColumn() {
        let message = error("{\"kom\": [1, 2,,]}")
        #expect(
            message?.hasPrefix("bad.icon: not an InsightConnect export: line 1, column") == true, "\(message ?? "")")
    }

    @Test func nestingBeyondTheJSONLimitIsRefused() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let message = error("{\"kom\": \(deep)}")
        #expect(message?.contains("bad.icon") == true)
    }

    @Test func hugeIntegersAreRefused() {
        let message = error("{\"kom\": \(String(repeating: "9", count: 5000))}")
        #expect(message?.contains("bad.icon") == true)
    }

    @Test(arguments: [
        (#"[]"#, "bad.icon: kom: expected an object, found nothing"),
        (#"{"kom": 3}"#, "bad.icon: kom: expected an object, found integer"),
        (
            #"{"kom": {"workflowVersions": [], "triggers": []}}"#,
            "bad.icon: kom.workflowVersions: expected one workflow version, found none"
        ),
        (
            #"{"kom": {"workflowVersions": [{"name": 1}], "triggers": [{}]}}"#,
            "bad.icon: kom.workflowVersions[0].name: expected a string, found integer"
        ),
        (
            #"{"kom": {"workflowVersions": [{"name": "x", "graph": {"nodes": {}}, "steps": {"a": {"type": "#
                + #"true}}}], "triggers": [{"type": "trigger_api"}]}}"#,
            "bad.icon: kom.workflowVersions[0].steps.a.type: expected a string, found boolean"
        ),
        (
            #"{"kom": {"workflowVersions": [{"name": "x", "graph": {"nodes": {}}, "steps": {"a": {"type": "#
                + #""action", "plugin": {"slugName": "../../etc"}}}}], "triggers": [{"type": "trigger_api"}]}}"#,
            #"bad.icon: kom.workflowVersions[0].steps.a.plugin.slugName: expected a plugin name (lowercase "#
                + #"letters, digits and _), found "../../etc""#
        ),
    ])
    func wrongShapesNameTheJSONPath(text: String, expected: String) {
        #expect(error(text) == expected)
    }

    @Test func aDeeplyNestedExpressionIsAReportedGapNotACrash() throws {
        var expression: JSONValue = ["type": "literal", "value": true]
        for _ in 0..<200 { expression = ["type": "unary", "op": "NOT", "expr": expression] }
        var b = ExportBuilder()
        b.action(1, "Check")
        b.action(2, "Then")
        b.edge(ExportBuilder.node(0), ExportBuilder.node(1))
        b.edge(ExportBuilder.node(1), ExportBuilder.node(10))
        let yes = b.edge(ExportBuilder.node(10), ExportBuilder.node(2), name: "Yes")
        let no = b.edge(ExportBuilder.node(10), "", name: "No")
        b.step(
            10, "Deep", type: "automated_decision",
            parameters: [
                "defaultEdgeId": .string(no),
                "stepControlParams": [
                    ["edgeId": .string(yes), "expression": expression], ["edgeId": .string(no), "expression": [:]],
                ],
            ])
        let t = try b.translate()
        let deep = try #require(t.report.steps.first { $0.name == "Deep" })
        #expect(deep.status == .notTranslated)
        #expect(deep.reasons.first?.contains("nests deeper than") == true)
    }

    @Test func aCycleOfParentLoopsEndsTheWalkInsteadOfHanging() throws {
        var b = ExportBuilder()
        b.action(1, "Reached")
        b.edge(ExportBuilder.node(0), ExportBuilder.node(1))
        // Two steps that are each other's enclosing loop, reached by no edge.
        b.action(2, "A", parent: ExportBuilder.node(3))
        b.action(3, "B", parent: ExportBuilder.node(2))
        let t = try b.translate()
        #expect(t.report.steps.first { $0.name == "A" }?.status == .notTranslated)
        #expect(t.report.steps.first { $0.name == "B" }?.status == .notTranslated)
    }

    @Test func lineBreaksOfEveryKindInACommentStayInTheComment() throws {
        var writer = YAMLWriter()
        writer.comment("Slack channel\r\nsteps: []\u{2028}name: x\u{85}trigger: y", indent: 0)
        #expect(writer.text.split(separator: "\n").allSatisfy { $0.hasPrefix("# ") }, "\(writer.text)")
    }

    @Test func aFileThatDoesNotExistIsReportedAndTheOthersGoOn() {
        let result = WorkflowImporter(
            configuration: WorkflowImporter.Configuration(specsDirectory: CorpusPaths.specs, outputDirectory: "unused")
        ).translate(files: ["/nonexistent/x.icon"] + CorpusPaths.exports.prefix(1))
        #expect(result.report.failures.map(\.message) == ["/nonexistent/x.icon: no such file"])
        #expect(result.report.workflows.count == min(1, CorpusPaths.exports.count))
    }
}

/// The YAML the importer writes reads back, with Relay's reader, as the value it was written from.
@Suite struct YAMLWriterTests {
    @Test(arguments: [
        "plain words", "yes", "No", "on", "null", "~", "12:30", "0x1F", "1_000", "1e3", "-", "- item", "key: value",
        "# not a comment", "a # b", "trailing space ", " leading", "'quoted'", "\"double\"", "back\\slash", "tab\there",
        "{{ steps.x.output }}", "[not, a, list]", "multi\nline\ntext", "ends with a newline\n", "two\n\n",
        "\n starts with a newline", "  indented\n  lines", "bell \u{7} and nel \u{85} and ls \u{2028}", "émoji 🎉", "",
        "@at", "`tick`", "%percent", "!tag", "&anchor", "*alias", "|pipe", ">fold", "?question", ",comma",
    ])
    func stringsReadBackExactly(text: String) throws {
        var writer = YAMLWriter()
        writer.entry("value", ["text": .string(text), "list": [.string(text), 1]], indent: 0)
        let root = try YAMLDocument.parse(writer.text, file: "t.yaml")
        #expect(root["value"]?["text"]?.json == .string(text), "\(writer.text)")
        #expect(root["value"]?["list"]?.json == [.string(text), 1], "\(writer.text)")
    }

    @Test func numbersBooleansAndNullKeepTheirTypes() throws {
        let value: JSONValue = ["i": 42, "d": 1.5, "e": 1e20, "b": false, "n": nil, "empty": [:], "none": []]
        var writer = YAMLWriter()
        writer.entry("v", value, indent: 0)
        let root = try YAMLDocument.parse(writer.text, file: "t.yaml")
        #expect(root["v"]?.json == value, "\(writer.text)")
    }
}
