import RelayCore
import Testing

@testable import RelayImport

/// The step types Relay's dispatcher decides (issue #14): artifacts, pattern matches, filters, breaks, global
/// artifacts and decisions, in the shapes of the corpus's exports, and the YAML they become.
@Suite struct StepKindTranslationTests {
    let trigger = ExportBuilder.node(0)
    func n(_ number: Int) -> String { ExportBuilder.node(number) }

    func step(_ translation: WorkflowTranslation, _ id: String, workflow: Int = 0) -> ImportedStep? {
        translation.workflows[workflow].steps.first { $0.id == id }
    }

    func report(_ translation: WorkflowTranslation, _ name: String) -> StepReport? {
        translation.report.steps.first { $0.name == name }
    }

    func variable(_ name: String) -> JSONValue { ["type": "variable", "name": .string(name)] }

    @Test func anArtifactKeepsItsContentAsATextTemplateAndItsReadersReadContent() throws {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.step(
            2, "Summary", type: "artifact",
            parameters: [
                "type": "markdown",
                "input": [
                    "content": .string(
                        "# Hosts\n{{#each [\(n(1))].[hosts]}}\n* {{name}} ({{@index}}){{#if ip}} {{this.[ip]}}{{/if}}\n"
                            + "{{else}}none{{/each}}")
                ],
            ])
        b.action(3, "Post", input: ["text": .string("{{[\(n(2))].[content]}}")])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        let t = try b.translate()
        let summary = try #require(step(t, "summary"))
        #expect(
            summary.kind
                == .artifact(
                    name: "Summary", format: "markdown",
                    content: "# Hosts\n{{#each steps.lookup.output.hosts}}\n* {{ this.name }} ({{ @index }})"
                        + "{{#if this.ip}} {{ this.ip }}{{/if}}\n{{else}}none{{/each}}"))
        #expect(summary.needs == ["lookup"])
        #expect(step(t, "post")?.input == ["text": "{{ steps.summary.output.content }}"])
        #expect(t.report.steps.allSatisfy { $0.status == .translated })
        let yaml = t.workflows[0].yaml
        #expect(yaml.contains("    artifact:\n      name: Summary\n      format: markdown\n      content: |-\n"))
    }

    @Test func aPatternMatchIsOneICUPatternWithANamedGroupPerVariable() throws {
        var b = ExportBuilder()
        b.step(
            1, "Extract Command", type: "pattern_match",
            parameters: [
                "captureAll": false, "ignoreCase": true,
                "input": .string("{{[\(trigger)].[message].[text]}}"),
                "expressions": [
                    ["type": "text", "value": "<.*> lookup-vuln\\s+"],
                    ["type": "variable", "value": ["ident": "search_base", "regex": "(?P<inner>dc=.*)"]],
                    ["type": "text", "value": " "],
                    ["type": "variable", "value": ["ident": "host", "regex": "\\pL+"]],
                ],
            ])
        b.action(
            2, "Use", input: ["base": .string("{{[\(n(1))].[search_base]}}"), "host": .string("{{[\(n(1))].[host]}}")])
        b.step(
            3, "Matched?", type: "automated_decision",
            parameters: [
                "defaultEdgeId": "no",
                "stepControlParams": [
                    [
                        "edgeId": "yes",
                        "expression": [
                            "type": "binary", "op": "=", "left": variable("\(n(1)).$matched"),
                            "right": ["type": "literal", "value": true],
                        ],
                    ],
                    ["edgeId": "no", "expression": [:]],
                ],
            ])
        b.edge(trigger, n(1))
        b.edge(n(1), n(3))
        b.edges["yes"] = [
            "id": "yes", "name": "Yes", "fromNodeId": .string(n(3)), "toNodeId": .string(n(2)), "parentNodeId": "",
        ]
        b.edges["no"] = ["id": "no", "name": "No", "fromNodeId": .string(n(3)), "toNodeId": "", "parentNodeId": ""]
        let t = try b.translate()
        let match = try #require(step(t, "extract_command"))
        #expect(
            match.kind
                == .match(
                    text: "{{ trigger.json.message.text }}",
                    pattern: #"<.*> lookup-vuln\s+(?<searchBase>(dc=.*)) (?<host>\p{L}+)"#, ignoreCase: true,
                    all: false))
        let use = try #require(step(t, "use"))
        #expect(
            use.input
                == [
                    "base": "{{ steps.extract_command.output.searchBase }}",
                    "host": "{{ steps.extract_command.output.host }}",
                ])
        #expect(use.when == "steps.extract_command.output.matched == true")
        #expect(report(t, "Extract Command")?.notes.contains { $0.contains("searchBase") } == true)
        #expect(report(t, "Extract Command")?.status == .translated)
    }

    @Test(arguments: [
        (#"a{,3}b}"#, #"a\{,3\}b\}"#),
        (#"x{2,}[a[b&&c]"#, #"x{2,}[a\[b\&\&c]"#),
        (#"[[:alpha:]]\pN\PL"#, #"[[:alpha:]]\p{N}\P{L}"#),
        (#"(?P<n>a)(?<m>b)(?<=c)(?:d)"#, #"(a)(b)(?<=c)(?:d)"#),
        (#"\Q{x}\E{"#, #"\Q{x}\E\{"#),
    ])
    func re2BecomesICU(re2: String, icu: String) {
        #expect(ICONPattern.icu(re2) == .success(icu))
    }

    @Test func re2FormsICUHasNotAreGaps() {
        #expect(throws: TranslationGap.self) { try ICONPattern.icu("(?U)a+").get() }
        #expect(throws: TranslationGap.self) { try ICONPattern.icu(#"a\C"#).get() }
        #expect(ICONPattern.groupName("matched", taken: []) == "matchedGroup")
        #expect(ICONPattern.groupName("user_name", taken: ["userName"]) == "userName2")
        #expect(ICONPattern.groupName("1st", taken: []) == "group1st")
    }

    @Test func aFilterGuardsThePathAfterItAndStopOnMatchNegatesIt() throws {
        var b = ExportBuilder()
        b.action(1, "Scan")
        let condition: JSONValue = [
            "type": "binary", "op": "=~", "left": variable("\(n(1)).site"),
            "right": ["type": "regexp", "regexp": ".*Lab.*"],
        ]
        b.step(
            2, "Filter Sites", type: "filter",
            parameters: ["stepControlParam": ["edgeId": "e", "expression": condition], "stopOnMatch": true])
        b.step(
            3, "Has Hosts", type: "filter",
            parameters: [
                "stepControlParam": [
                    "edgeId": "f",
                    "expression": [
                        "type": "binary", "op": ">",
                        "left": ["type": "function", "name": "length", "args": [variable("\(n(1)).hosts")]],
                        "right": ["type": "literal", "value": 0],
                    ],
                ], "stopOnMatch": false,
            ])
        b.action(4, "Patch")
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        b.edge(n(3), n(4))
        let t = try b.translate()
        #expect(step(t, "filter_sites")?.kind == .filter(#"not (steps.scan.output.site matches ".*Lab.*")"#))
        #expect(step(t, "has_hosts")?.kind == .filter("length(steps.scan.output.hosts) > 0"))
        #expect(step(t, "has_hosts")?.needs == ["filter_sites"])
        #expect(step(t, "patch")?.needs == ["has_hosts"])
        #expect(t.workflows[0].yaml.contains(#"    filter: "length(steps.scan.output.hosts) > 0""#))
        #expect(
            t.workflows[0].yaml.contains(
                "  - id: has_hosts\n    filter: \"length(steps.scan.output.hosts) > 0\"\n    needs: [filter_sites]\n  #"
            ))
        #expect(t.report.steps.allSatisfy { $0.status == .translated })
    }

    @Test func aBreakInALoopLeavesItAndTheLoopHasNoGap() throws {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.loop(2, "Each Host", over: "{{[\(n(1))].[hosts]}}", first: 3)
        b.action(3, "Check", parent: n(2))
        b.step(
            4, "Stop", type: "break",
            parameters: [
                "stepControlParam": [
                    "edgeId": "x",
                    "expression": [
                        "type": "binary", "op": "=", "left": ["type": "literal", "value": "true"],
                        "right": ["type": "literal", "value": "true"],
                    ],
                ]
            ], parent: n(2))
        b.step(
            5, "Enough", type: "break",
            parameters: [
                "stepControlParam": [
                    "edgeId": "y",
                    "expression": [
                        "type": "binary", "op": "=", "left": variable("\(n(3)).found"),
                        "right": ["type": "literal", "value": true],
                    ],
                ]
            ], parent: n(2))
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(3), n(5), parent: n(2))
        b.edge(n(5), n(4), parent: n(2))
        let t = try b.translate()
        #expect(step(t, "enough", workflow: 1)?.kind == .break("steps.check.output.found == true"))
        #expect(step(t, "stop", workflow: 1)?.kind == .break(nil))
        #expect(t.workflows[1].yaml.contains("    break: true\n"))
        #expect(report(t, "Each Host")?.status == .translated, "\(report(t, "Each Host")?.reasons ?? [])")
        #expect(report(t, "Stop")?.notes.contains { $0.contains("always true") } == true)
    }

    @Test func globalArtifactLookupAndAppend() throws {
        var b = ExportBuilder()
        b.action(1, "Lower")
        let artifact: JSONValue = [
            "name": "Asset Exclusion List", "id": "a1",
            "schema": [
                "definitions": ["_ROOT_": ["properties": ["hostId": ["type": "string"], "name": ["type": "string"]]]]
            ],
        ]
        b.step(
            2, "Excluded?", type: "helpers",
            parameters: [
                "expression": [
                    "type": "binary", "op": "=", "left": ["type": "literal", "value": "name"],
                    "right": variable("\(n(1)).lower"),
                ]
            ], extra: ["helperIdentifier": "lookup_global_artifacts", "globalArtifact": artifact])
        b.step(
            3, "Remember", type: "helpers", parameters: ["input": ["name": .string("{{[\(n(1))].[lower]}}")]],
            extra: ["helperIdentifier": "append_global_artifacts", "globalArtifact": artifact])
        b.action(4, "Report", input: ["found": .string("{{[\(n(2))].[found]}}")])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        b.edge(n(3), n(4))
        let t = try b.translate()
        #expect(
            step(t, "excluded")?.kind
                == .globalArtifact(
                    name: "Asset Exclusion List", operation: .lookup, value: ["name": "{{ steps.lower.output.lower }}"])
        )
        #expect(
            step(t, "remember")?.kind
                == .globalArtifact(
                    name: "Asset Exclusion List", operation: .append, value: ["name": "{{ steps.lower.output.lower }}"])
        )
        #expect(step(t, "report")?.input == ["found": "{{ steps.excluded.output.found }}"])
        #expect(report(t, "Excluded?")?.notes.first?.contains("starts empty") == true)
        #expect(t.workflows[0].yaml.contains("    global_artifact:\n      name: Asset Exclusion List\n      lookup:\n"))
    }

    /// A Slack chat-ops decision (Slack has no spec in the corpus): the decision is translated, its question not
    /// posted (a gap), and each answer's branch gets a condition on the answer.
    func chatDecision(app: String) -> ExportBuilder {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.step(
            2, "Confirm Block", type: "decision_chatops",
            parameters: [
                "message": .string("Block {{[\(n(1))].[host]}}?"), "question": "Continue?",
                "recipient": "#secops", "attachments": nil, "messageType": "button",
                "options": [
                    ["answer": "Yes", "edgeId": "yes", "isTimeoutOnly": false],
                    ["answer": "No", "edgeId": "no", "isTimeoutOnly": false],
                ],
                "timeout": 600, "timeoutDisplayUnit": "minutes", "timeoutEdgeId": "no",
            ], extra: ["chatOpsAppName": .string(app), "chatOpsIdentifier": "post_interactive_message"])
        b.action(3, "Block", input: ["by": .string("{{[\(n(2))].[responding_user]}}")])
        b.action(4, "Note", input: ["answer": .string("{{[\(n(2))].[path]}}")])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edges["yes"] = [
            "id": "yes", "name": "Yes", "fromNodeId": .string(n(2)), "toNodeId": .string(n(3)), "parentNodeId": "",
        ]
        b.edges["no"] = [
            "id": "no", "name": "No", "fromNodeId": .string(n(2)), "toNodeId": .string(n(4)), "parentNodeId": "",
        ]
        return b
    }

    @Test func aChatOpsDecisionWithoutTheChatPluginsSpecIsADecisionAnsweredWithRelayRunsAnswer() throws {
        let t = try chatDecision(app: "slack").translate()
        let decision = try #require(step(t, "confirm_block"))
        #expect(
            decision.kind
                == .decision(
                    question: "Block {{ steps.lookup.output.host }}?\n\nContinue?", options: ["Yes", "No"],
                    timeout: "10m", defaultOption: "No"))
        #expect(decision.needs == ["lookup"])
        #expect(step(t, "block")?.needs == ["confirm_block"])
        #expect(step(t, "block")?.when == #"steps.confirm_block.output.option == "Yes""#)
        #expect(step(t, "block")?.input == ["by": "{{ steps.confirm_block.output.answered_by }}"])
        #expect(step(t, "note")?.when == #"steps.confirm_block.output.option == "No""#)
        #expect(step(t, "note")?.input == ["answer": "{{ steps.confirm_block.output.option }}"])
        let reported = try #require(report(t, "Confirm Block"))
        #expect(reported.status == .partial)
        #expect(reported.reasons.contains { $0.contains("no spec for slack") && $0.contains("relay runs answer") })
        #expect(report(t, "Block")?.status == .translated)
        #expect(
            t.workflows[0].yaml.contains(
                "    decision:\n      question: |-\n        Block {{ steps.lookup.output.host }}?\n\n"
                    + "        Continue?\n      options: [\"Yes\", \"No\"]\n      timeout: \"10m\"\n"
                    + "      default: \"No\"\n    needs: [lookup]\n"
            ))
    }

    @Test func aChatOpsDecisionWhoseChatPluginHasASpecPostsItsQuestionFirst() throws {
        let t = try chatDecision(app: "microsoft_teams").translate()
        let message = try #require(step(t, "confirm_block_message"))
        #expect(message.plugin == "microsoft_teams" && message.action == "send_message")
        #expect(message.needs == ["lookup"])
        #expect(message.input["channel_name"] == "#secops")
        #expect(message.input["message"]?.stringValue?.contains("relay runs answer {{ run.id }} confirm_block") == true)
        #expect(step(t, "confirm_block")?.needs == ["confirm_block_message"])
        #expect(report(t, "Confirm Block")?.reasons.contains { $0.contains("team_name") } == true)
    }

    func chatAction(app: String) -> ExportBuilder {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.step(
            2, "Tell Slack", type: "action_chatops",
            parameters: ["input": ["recipient": "#secops", "message": "done"]],
            extra: ["chatOpsAppName": .string(app), "chatOpsIdentifier": "post_message"])
        b.action(3, "Close")
        b.action(4, "Thread", input: ["ts": .string("{{[\(n(2))].[timestamp]}}")])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(3))
        b.edge(n(3), n(4))
        return b
    }

    @Test func aChatOpsActionWithoutSpecIsLeftOutAndTheStepsAfterItFollowTheStepsBeforeIt() throws {
        let t = try chatAction(app: "slack").translate()
        #expect(report(t, "Tell Slack")?.reasons.first?.contains("no spec for slack in --specs") == true)
        #expect(step(t, "close")?.needs == ["lookup"])
        #expect(report(t, "Close")?.status == .translated)
        #expect(report(t, "Thread")?.status == .notTranslated)
    }

    @Test func aChatOpsActionWhoseChatPluginHasASpecIsThatPluginsAction() throws {
        let t = try chatAction(app: "microsoft_teams").translate()
        let tell = try #require(step(t, "tell_slack"))
        #expect(
            tell.plugin == "microsoft_teams" && tell.action == "send_message" && tell.connection == "microsoft_teams")
        #expect(tell.input == ["channel_name": "#secops", "message": "done"])
        #expect(step(t, "close")?.needs == ["tell_slack"])
        // Teams' send_message returns the message, not Slack's timestamp.
        #expect(report(t, "Thread")?.reasons.contains { $0.contains("timestamp") } == true)
    }

    @Test func aHumanDecisionOffersItsBranchesNames() throws {
        var b = ExportBuilder()
        b.step(
            1, "Block Account?", type: "human_decision",
            parameters: [
                "defaultEdgeId": "",
                "notifications": ["artifactIds": nil, "userIdsForEmail": []],
                "stepControlParams": [["edgeId": "a", "expression": [:]], ["edgeId": "b", "expression": [:]]],
                "timeout": 21600, "timeoutDisplayUnit": "minutes", "timeoutEdgeId": "b",
            ])
        b.action(2, "Block")
        b.edge(trigger, n(1))
        b.edges["a"] = [
            "id": "a", "name": "Block It", "fromNodeId": .string(n(1)), "toNodeId": .string(n(2)), "parentNodeId": "",
        ]
        b.edges["b"] = ["id": "b", "name": "Leave It", "fromNodeId": .string(n(1)), "toNodeId": "", "parentNodeId": ""]
        let t = try b.translate()
        #expect(
            step(t, "block_account")?.kind
                == .decision(
                    question: "Block Account?", options: ["Block It", "Leave It"], timeout: "6h",
                    defaultOption: "Leave It"))
        #expect(step(t, "block")?.when == #"steps.block_account.output.option == "Block It""#)
        #expect(t.report.steps.allSatisfy { $0.status == .translated })
    }

    @Test func blocksOverALoopsOutputsReadTheBodysStepsFromTheElement() throws {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.loop(2, "Each Host", over: "{{[\(n(1))].[hosts]}}", first: 3)
        b.action(3, "Hash", parent: n(2))
        b.step(
            4, "Summary", type: "artifact",
            parameters: [
                "type": "markdown",
                "input": [
                    "content": .string(
                        "{{#each [\(n(2))].[$outputs]}}{{[\(n(3))].[md5]}}{{#each .}}{{@key}}={{.}} {{../x}}{{/each}}"
                            + "{{/each}}{{#if [\(n(1))].[a]}}A{{else if [\(n(1))].[b]}}B{{else}}C{{/if}}"
                            + "{{#equal [\(n(1))].[kind] 'url'}}U{{else equal [\(n(1))].[n] 0}}Z{{/equal}}"
                            + "{{[\(n(1))].[$success]}}")
                ],
            ])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(2), n(4))
        let t = try b.translate()
        guard case .artifact(_, _, let content) = step(t, "summary")?.kind else {
            Issue.record("\(report(t, "Summary")?.reasons ?? [])")
            return
        }
        #expect(
            content
                == "{{#each steps.each_host.output}}{{ this.hash.md5 }}{{#each this}}{{ @key }}={{ this }} "
                + "{{ ../x }}{{/each}}{{/each}}{{#if steps.lookup.output.a}}A{{else}}{{#if steps.lookup.output.b}}B"
                + "{{else}}C{{/if}}{{/if}}{{#equal steps.lookup.output.kind \"url\"}}U{{else}}"
                + "{{#equal steps.lookup.output.n 0}}Z{{/equal}}{{/equal}}{{ steps.lookup.success }}")
        #expect(t.workflows[1].output == ["hash": "{{ steps.hash.output }}"])
    }

    /// A loop whose body breaks outputs null in Relay for each item not run, where InsightConnect's `$outputs` holds
    /// only the iterations that ran: an `#each` over it writes nothing for those (`{{#if this}}` around its body, the
    /// `else` part kept outside).
    @Test func blocksOverTheOutputsOfALoopThatBreaksPassOverTheItemsNotRun() throws {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.loop(2, "Each Host", over: "{{[\(n(1))].[hosts]}}", first: 3)
        b.action(3, "Hash", parent: n(2))
        b.step(4, "Stop", type: "break", parent: n(2))
        b.step(
            5, "Summary", type: "artifact",
            parameters: [
                "type": "markdown",
                "input": [
                    "content": .string(
                        "{{#each [\(n(2))].[$outputs]}}- {{[\(n(3))].[md5]}}{{/each}}"
                            + "{{#each [\(n(2))].[$outputs]}}{{@index}}{{else}}none{{/each}}"
                            + "{{#each [\(n(1))].[hosts]}}{{this}}{{/each}}")
                ],
            ])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        b.edge(n(3), n(4), parent: n(2))
        b.edge(n(2), n(5))
        let t = try b.translate()
        guard case .artifact(_, _, let content) = step(t, "summary")?.kind else {
            Issue.record("\(report(t, "Summary")?.reasons ?? [])")
            return
        }
        #expect(
            content
                == "{{#each steps.each_host.output}}{{#if this}}- {{ this.hash.md5 }}{{/if}}{{/each}}"
                + "{{#each steps.each_host.output}}{{#if this}}{{ @index }}{{/if}}{{else}}none{{/each}}"
                + "{{#each steps.lookup.output.hosts}}{{ this }}{{/each}}")
        #expect(step(t, "stop", workflow: 1)?.kind == .break(nil))
    }

    @Test(arguments: [
        ("{{#with [00000000-0000-4000-8000-000000000001].[a]}}y{{/with}}", "{{#with}}"),
        ("{{#equal [00000000-0000-4000-8000-000000000001].[a]}}y{{/equal}}", "compares two values"),
        ("{{#each [00000000-0000-4000-8000-000000000001].[a]}}{{@date}}{{/each}}", "@date"),
        ("{{#each [00000000-0000-4000-8000-000000000001].[a]}}x", "is not closed"),
        ("{{#if [00000000-0000-4000-8000-000000000001].[a]}}x{{/each}}", "closes {{#if}}"),
        ("{{#each [00000000-0000-4000-8000-000000000001].[a]}}{{../../x}}{{/each}}", "blocks up"),
    ])
    func textTemplateFormsRelayHasNotAreGaps(text: String, reason: String) throws {
        var b = ExportBuilder()
        b.action(1, "Lookup")
        b.step(2, "Summary", type: "artifact", parameters: ["type": "markdown", "input": ["content": .string(text)]])
        b.edge(trigger, n(1))
        b.edge(n(1), n(2))
        let t = try b.translate()
        let reported = try #require(report(t, "Summary"))
        #expect(reported.status == .notTranslated)
        #expect(reported.reasons.contains { $0.contains(reason) }, "\(reported.reasons)")
    }
}
