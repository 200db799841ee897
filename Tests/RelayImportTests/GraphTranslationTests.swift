import RelayCore
import Testing

@testable import RelayImport

/// Edges → needs, decisions → when, joins, loops → for_each over a sub-workflow, and steps left out.
@Suite struct GraphTranslationTests {
    let trigger = ExportBuilder.node(0)
    func n(_ number: Int) -> String { ExportBuilder.node(number) }

    func decision(
        _ number: Int, _ builder: inout ExportBuilder, branches: [(edge: String, JSONValue)], defaultEdge: String
    ) {
        var params: [JSONValue] = branches.map {
            ["edgeId": .string($0.edge), "expression": $0.1, "expressionText": ""]
        }
        params.append(["edgeId": .string(defaultEdge), "expression": [:], "expressionText": ""])
        builder.step(
            number, "Decide \(number)", type: "automated_decision",
            parameters: ["defaultEdgeId": .string(defaultEdge), "stepControlParams": .array(params)])
    }

    func equals(_ node: String, _ path: String, _ value: JSONValue) -> JSONValue {
        [
            "type": "binary", "op": "=", "left": ["type": "variable", "name": .string("\(node).\(path)")],
            "right": ["type": "literal", "value": value],
        ]
    }

    func step(_ translation: WorkflowTranslation, _ id: String, workflow: Int = 0) -> ImportedStep? {
        translation.workflows[workflow].steps.first { $0.id == id }
    }

    @Test func aStraightLineNeedsEachPredecessorAndTemplatesReadTheWebhookBody() throws {
        var b = ExportBuilder()
        b.action(1, "Look Up", input: ["identifier": .string("{{[\(trigger)].[investigation].[id]}}")])
        b.action(2, "Look Up", input: ["identifier": .string("x {{[\(n(1))].[content_result].[Go back]}} y")])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), "")
        let t = try b.translate()
        let first = try #require(step(t, "look_up"))
        let second = try #require(step(t, "look_up_2"))
        #expect(first.needs == [])
        #expect(first.input == ["identifier": "{{ trigger.json.investigation.id }}"])
        #expect(second.needs == ["look_up"])
        #expect(second.input == ["identifier": #"x {{ steps.look_up.output.content_result["Go back"] }} y"#])
        #expect(
            t.workflows[0].trigger
                == ImportedTrigger(
                    plugin: "webhook", trigger: "webhook", input: ["path": "test-workflow"],
                    comments: t.workflows[0].trigger!.comments))
        #expect(t.report.steps.allSatisfy { $0.status == .translated })
    }

    @Test func aDecisionPutsFirstMatchConditionsOnItsBranches() throws {
        var b = ExportBuilder()
        b.action(1, "Check")
        b.action(2, "On A")
        b.action(3, "On B")
        b.action(4, "Otherwise")
        b.edge(trigger, n(1))
        b.edge(n(1), n(10))
        let yesA = b.edge(n(10), n(2), name: "A")
        let yesB = b.edge(n(10), n(3), name: "B")
        let no = b.edge(n(10), n(4), name: "No")
        decision(
            10, &b, branches: [(yesA, equals(n(1), "kind", "a")), (yesB, equals(n(1), "kind", "b"))], defaultEdge: no)
        let t = try b.translate()
        #expect(step(t, "on_a")?.needs == ["check"])
        #expect(step(t, "on_a")?.when == #"steps.check.output.kind == "a""#)
        #expect(step(t, "on_b")?.when == #"not (steps.check.output.kind == "a") and steps.check.output.kind == "b""#)
        #expect(
            step(t, "otherwise")?.when
                == #"not (steps.check.output.kind == "a") and not (steps.check.output.kind == "b")"#)
        #expect(t.report.steps.first { $0.type == "automated_decision" }?.status == .translated)
    }

    /// A join with values is a `join:` step: an edge from a step is that step's need; an edge straight from a
    /// decision's branch is the step before the decision, listed last. A value two such branches give differently
    /// is a gap, and so is its reader.
    @Test func aJoinsValuesBecomeAJoinStepKeyedByTheNeedOnEachPath() throws {
        var b = ExportBuilder()
        b.action(1, "Check")
        b.action(2, "Block")
        b.edge(trigger, n(1))
        b.edge(n(1), n(10))
        let yes = b.edge(n(10), n(2), name: "Yes")
        let maybe = b.edge(n(10), n(11), name: "Maybe")
        let no = b.edge(n(10), n(11), name: "No")
        decision(
            10, &b, branches: [(yes, equals(n(1), "kind", "a")), (maybe, equals(n(1), "kind", "b"))], defaultEdge: no)
        let fromBlock = b.edge(n(2), n(11))
        b.step(
            11, "Join", type: "join",
            parameters: [
                "decisionEdgeIds": [.string(fromBlock), .string(maybe), .string(no)],
                "variableSets": [
                    [
                        "name": "Was Blocked", "type": "boolean",
                        "variables": .object([
                            maybe: false, fromBlock: .string("{{[\(n(2))].[$success]}}"), no: false,
                        ]),
                    ],
                    [
                        "name": "Why", "type": "string",
                        "variables": .object([fromBlock: "blocked", maybe: "maybe", no: "no"]),
                    ],
                ],
            ])
        b.action(3, "Tell", input: ["text": .string("{{[\(n(11))].[Was Blocked]}}")])
        b.action(4, "Explain", input: ["text": .string("{{[\(n(11))].[Why]}}")])
        b.edge(n(11), n(3))
        b.edge(n(3), n(4))
        let t = try b.translate()
        let join = try #require(step(t, "join"))
        #expect(join.needs == ["check", "block"])
        #expect(join.kind == .join(["Was Blocked": ["block": "{{ steps.block.success }}", "check": false]]))
        #expect(step(t, "tell")?.needs == ["join"])
        #expect(step(t, "tell")?.input == ["text": #"{{ steps.join.output["Was Blocked"] }}"#])
        #expect(
            t.workflows[0].yaml.contains("    join:\n      Was Blocked:\n        block: \"{{ steps.block.success }}\""))
        let report = try #require(t.report.steps.first { $0.name == "Join" })
        #expect(report.status == .partial)
        #expect(
            report.reasons == [
                "its value \"Why\" is not translated: the path \"No\" and another come after the same step check "
                    + "(branches of one decision) and give it differently; Relay's join takes a value by the need "
                    + "whose path was taken; the steps that read it are reported"
            ])
        #expect(step(t, "explain") == nil)
        #expect(
            t.report.steps.first { $0.name == "Explain" }?.reasons.first?.hasPrefix(
                "reads the value \"Why\" of join \"Join\" (join), which is not translated") == true)
    }

    @Test func aJoinAfterADecisionNeedsEveryWayInAndHoldsOnlyWhenAWayWasTaken() throws {
        // Decide: Yes → Block → Join; No → Join directly; Maybe → end. The step after the join must not run on
        // "Maybe", so it gets a condition; with no way ending elsewhere it would need none.
        var b = ExportBuilder()
        b.action(1, "Check")
        b.action(2, "Block")
        b.step(20, "Join", type: "join", parameters: ["variableSets": []])
        b.action(3, "Close")
        b.edge(trigger, n(1))
        b.edge(n(1), n(10))
        let yes = b.edge(n(10), n(2), name: "Yes")
        let no = b.edge(n(10), n(20), name: "No")
        let maybe = b.edge(n(10), "", name: "Maybe")
        decision(
            10, &b, branches: [(yes, equals(n(1), "bad", true)), (no, equals(n(1), "bad", false))], defaultEdge: maybe)
        b.edge(n(2), n(20))
        b.edge(n(20), n(3))
        let t = try b.translate()
        let close = try #require(step(t, "close"))
        #expect(close.needs == ["check", "block"])
        #expect(
            close.when
                == #"steps.check.status != "skipped" and not (steps.check.output.bad == true) and "#
                + #"steps.check.output.bad == false or steps.block.status != "skipped""#
        )
    }

    @Test func aLoopBecomesAForEachOverASubWorkflowThatGetsWhatItReads() throws {
        var b = ExportBuilder()
        let loop = n(5)
        b.step(
            5, "Loop over Vulns", type: "loop",
            parameters: [
                "repeatVariable": .string("{{[\(trigger)].[changes].[asset_vulnerabilities_found]}}"),
                "innerEdgeId": "eeeeeeee-0000-4000-8000-000000000002", "customOutput": [],
            ])
        b.action(
            6, "Find More",
            input: ["identifier": .string("{{[\(loop)].[$item]}} on {{[\(trigger)].[summary].[host_name]}}")],
            parent: loop)
        b.action(7, "Summarise", input: ["all": .string("{{[\(loop)].[$outputs]}}")])
        b.edge(trigger, loop)
        b.edge(loop, n(6), parent: loop)
        b.edge(n(6), "", parent: loop)
        b.edge(loop, n(7))
        let t = try b.translate()
        let loopStep = try #require(step(t, "loop_over_vulns"))
        #expect(loopStep.workflow == "test-workflow--loop-over-vulns")
        #expect(loopStep.forEach == "{{ trigger.json.changes.asset_vulnerabilities_found }}")
        #expect(loopStep.concurrency == 1)
        #expect(loopStep.input == ["item": "{{ item }}", "event": "{{ trigger.json }}"])
        let body = try #require(t.workflows.first { $0.name == "test-workflow--loop-over-vulns" })
        #expect(body.trigger == nil)
        #expect(
            body.steps.first?.input == ["identifier": "{{ trigger.item }} on {{ trigger.event.summary.host_name }}"])
        #expect(body.output == ["find_more": "{{ steps.find_more.output }}"])
        #expect(step(t, "summarise")?.input == ["all": "{{ steps.loop_over_vulns.output }}"])
        #expect(step(t, "summarise")?.needs == ["loop_over_vulns"])
    }

    @Test func aDisabledStepIsLeftOutAndTheNextFollowsTheOneBefore() throws {
        var b = ExportBuilder()
        b.action(1, "First")
        b.action(2, "Off", disabled: true)
        b.action(3, "Third")
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        let t = try b.translate()
        #expect(step(t, "off") == nil)
        #expect(step(t, "third")?.needs == ["first"])
        let off = try #require(t.report.steps.first { $0.name == "Off" })
        #expect(off.status == .notTranslated)
        #expect(off.reasons.first?.contains("disabled") == true)
        #expect(!t.report.isComplete)
    }

    @Test func readingAStepLeftOutLeavesTheReaderOutWithTheReason() throws {
        var b = ExportBuilder()
        b.step(1, "Format", type: "mystery", parameters: ["input": ["content": "x"]])
        b.action(2, "Send", input: ["text": .string("{{[\(n(1))].[content]}}")])
        b.action(3, "After")
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        let t = try b.translate()
        #expect(step(t, "send") == nil)
        #expect(step(t, "after")?.needs == [])
        let send = try #require(t.report.steps.first { $0.name == "Send" })
        #expect(send.reasons.first?.contains("\"Format\" (mystery), which is not translated") == true)
        let yaml = t.workflows[0].yaml
        #expect(yaml.contains("# Not imported: \"Format\" (mystery)"))
    }

    @Test func stepsAfterAChatOpsDecisionWithoutAnswersAreCutOff() throws {
        var b = ExportBuilder()
        b.step(1, "Ask", type: "decision_chatops", parameters: [:])
        b.action(2, "Do It")
        b.edge(trigger, n(1))
        b.edge(n(1), n(2), name: "Yes")
        let t = try b.translate()
        #expect(t.workflows[0].steps.isEmpty)
        let doIt = try #require(t.report.steps.first { $0.name == "Do It" })
        #expect(doIt.status == .notTranslated)
        #expect(doIt.reasons.first?.contains("comes after \"Ask\" (decision_chatops)") == true)
    }

    @Test func workflowVariablesBecomeVarsAndHandlebarsBlocksTextTemplates() throws {
        var b = ExportBuilder()
        b.variables["Organization ID"] = ["type": "string", "description": "The Meraki organization"]
        b.action(1, "Use Var", input: ["org": "{{$workflow.[Organization ID]}}"])
        b.action(2, "Each", input: ["text": .string("{{#each [\(trigger)].[items]}}{{this}}{{/each}}")])
        b.action(3, "Job", input: ["text": "see {{[$job].[URL]}}"])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        let t = try b.translate()
        #expect(step(t, "use_var")?.input == ["org": #"{{ vars["Organization ID"] }}"#])
        #expect(t.workflows[0].variables.map(\.name) == ["Organization ID"])
        #expect(
            t.workflows[0].yaml.contains(
                "vars:\n  # Organization ID: string, The Meraki organization (fill in)\n  Organization ID: null"))
        #expect(step(t, "each")?.input == ["text": "{{#each trigger.json.items}}{{ this }}{{/each}}"])
        let job = try #require(t.report.steps.first { $0.name == "Job" })
        #expect(job.reasons.first?.contains("$job") == true)
    }
}
