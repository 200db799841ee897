import RelayCore
import Testing

@testable import RelayImport

/// Template forms of the corpus (docs/insightconnect-import.md, *Templates, form by form*), each in a step's input
/// as exported, and the Relay text it becomes or the reason it does not.
@Suite struct TemplateTranslationTests {
    let trigger = ExportBuilder.node(0)
    let lookup = ExportBuilder.node(1)
    let loop = ExportBuilder.node(2)

    /// Translates `text` as the input of a step inside a loop (so that `$item` and outer reads are in play).
    enum Outcome: Equatable {
        case success(String)
        case failure([String])
    }

    func translate(_ text: String, triggerType: String = "trigger_api_idr") throws -> Outcome {
        var b = ExportBuilder()
        b.triggerType = triggerType
        b.variables["Organization ID"] = ["type": "string"]
        b.action(1, "Lookup")
        b.step(
            2, "Each Host", type: "loop",
            parameters: ["repeatVariable": .string("{{[\(lookup)].[hosts]}}"), "innerEdgeId": "inner"])
        b.action(3, "Use", input: ["value": .string(text)], parent: loop)
        b.edge(trigger, lookup)
        b.edge(lookup, loop)
        b.edges["inner"] = [
            "id": "inner", "name": "", "parentNodeId": .string(loop), "fromNodeId": .string(loop),
            "toNodeId": .string(ExportBuilder.node(3)),
        ]
        let t = try b.translate()
        let use = try #require(t.report.steps.first { $0.name == "Use" })
        guard use.status != .notTranslated else { return .failure(use.reasons) }
        let body = try #require(t.workflows.first { $0.name == "test-workflow--each-host" })
        return .success(body.steps.first?.input["value"]?.stringValue ?? "")
    }

    @Test func stepOutputPathsIndexesAndQuotedKeys() throws {
        // `{{[3fa9…].[content]}}`, `{{[27d0…].[message].[words].[2]}}`, `[Organization ID]`, `{{[0daf…]}}`
        #expect(try translate("{{[\(lookup)].[content]}}") == .success("{{ trigger.outer.lookup.content }}"))
        #expect(
            try translate("{{[\(lookup)].[message].[words].[2]}}")
                == .success("{{ trigger.outer.lookup.message.words[2] }}"))
        #expect(
            try translate("x {{[\(lookup)].[Organization ID]}} y")
                == .success(#"x {{ trigger.outer.lookup["Organization ID"] }} y"#))
        #expect(try translate("{{[\(lookup)]}}") == .success("{{ trigger.outer.lookup }}"))
    }

    @Test func theLoopItemAndTheTrigger() throws {
        #expect(try translate("{{[\(loop)].[$item]}}") == .success("{{ trigger.item }}"))
        #expect(try translate("{{[\(loop)].[$item].[id]}}") == .success("{{ trigger.item.id }}"))
        #expect(try translate("{{[\(trigger)].[investigationId]}}") == .success("{{ trigger.event.investigationId }}"))
    }

    @Test func workflowVariablesInBothForms() throws {
        #expect(try translate("{{$workflow.[Organization ID]}}") == .success(#"{{ trigger.vars["Organization ID"] }}"#))
        #expect(
            try translate("{{[$workflow].[Organization ID]}}") == .success(#"{{ trigger.vars["Organization ID"] }}"#))
    }

    @Test(arguments: [
        ("see {{[$job].[URL]}}", "$job"),
        ("{{this.[links].[0].[href]}}", "{{#each}} block"),
        ("**{{@key}}**: {{.}}", "{{#each}} block"),
        (#"{{["HashFile"].[md5]}}"#, "by the name"),
        ("{{[InsightIDR Event].[description]}}", "by the name InsightIDR Event"),
        ("{{[00000000-0000-4000-8000-000000000001].[undefined]}}", "broken path"),
        ("unclosed {{[00000000-0000-4000-8000-000000000001].[x]", "without a closing"),
        ("{{[99999999-0000-4000-8000-000000000001].[x]}}", "not in this workflow"),
    ])
    func formsThatAreNotTranslatedSayWhy(text: String, reason: String) throws {
        guard case .failure(let reasons) = try translate(text) else {
            Issue.record("\(text) was translated")
            return
        }
        #expect(reasons.contains { $0.contains(reason) }, "\(reasons)")
    }

    @Test func blocksSuccessAndTheRunFromInsideALoop() throws {
        #expect(
            try translate("{{#each [\(lookup)].[networks]}}{{name}}{{/each}}")
                == .success("{{#each trigger.outer.lookup.networks}}{{ this.name }}{{/each}}"))
        #expect(
            try translate("{{#if [\(lookup)].[description]}}x{{/if}}")
                == .success("{{#if trigger.outer.lookup.description}}x{{/if}}"))
        #expect(try translate("{{[\(lookup)].[$success]}}") == .success("{{ trigger.outer.lookup_success }}"))
        #expect(try translate("{{[$job].[id]}}") == .success("{{ trigger.outer.run_id }}"))
    }

    @Test func aTemplateWithoutBracesIsLeftAsText() throws {
        #expect(try translate("plain text, {not a template}") == .success("plain text, {not a template}"))
    }

    static let timers: [(String, JSONValue, String)] = [
        ("daily", ["times_in_utc": "05:00", "message": ""], "0 5 * * *"),
        ("daily", ["times_in_utc": "12:00:00", "message": ""], "0 12 * * *"),
        ("weekly", ["day": "Monday", "times_in_utc": "00:00:01", "message": ""], "0 0 * * 1"),
    ]

    @Test(arguments: timers)
    func timersBecomeCron(identifier: String, input: JSONValue, expression: String) throws {
        var b = ExportBuilder()
        b.triggerType = "trigger_plugin"
        b.triggerPlugin = "timers"
        b.triggerIdentifier = identifier
        b.triggerInput = input
        b.action(1, "Run")
        b.edge(trigger, lookup)
        let t = try b.translate()
        #expect(
            t.workflows[0].trigger?.input == ["expression": .string(expression)]
                && t.workflows[0].trigger?.plugin == "timer" && t.workflows[0].trigger?.trigger == "cron")
        #expect(t.report.trigger.gap == nil)
    }
}
