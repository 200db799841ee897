import RelayCore
import RelaySpec
import Testing

/// Reading the built-in steps (`artifact`, `match`, `filter`, `break`, `decision`, `global_artifact`, `join`).
@Suite struct BuiltinStepDecoderTests {
    static func decode(_ steps: String) throws(RelayError) -> Workflow {
        try WorkflowDecoder.decode(yaml: "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n" + steps, file: "w.yaml")
    }

    @Test func readsEachKind() throws {
        let workflow = try Self.decode(
            #"""
              - id: m
                match: {text: "{{ trigger.text }}", pattern: '(?<host>\S+) (?<!x)(?<=y)\(?<no>', ignore_case: true}
              - {id: f, filter: steps.m.output.matched}
              - {id: a, artifact: {name: Report, format: html, content: "<b>{{ steps.m.output.host }}</b>"}}
              - {id: d, decision: {question: "Go?", options: [Go, Stop], timeout: 10m, default: Stop}}
              - {id: b, break: true}
              - {id: c, break: 'steps.d.output.option == "Stop"'}
              - {id: g, global_artifact: {name: Seen, lookup: {host: "{{ steps.m.output.host }}"}}}
              - {id: h, global_artifact: {name: Seen, append: {host: "{{ steps.m.output.host }}"}}}
            """#)
        guard case .match(let match) = workflow.steps[0].builtin else {
            Issue.record("not a match")
            return
        }
        // Look-behinds and an escaped parenthesis are not groups.
        #expect(match.groups == ["host"])
        #expect(match.ignoreCase && !match.all)
        #expect(workflow.steps[1].isFilter)
        #expect(
            workflow.steps[2].builtin
                == .artifact(ArtifactStep(name: "Report", format: "html", content: "<b>{{ steps.m.output.host }}</b>")))
        #expect(
            workflow.steps[3].builtin
                == .decision(
                    DecisionStep(
                        question: "Go?", options: ["Go", "Stop"], timeout: .seconds(600), defaultOption: "Stop")))
        #expect(workflow.steps[4].builtin == .breakLoop(nil))
        #expect(workflow.steps[5].builtin?.condition?.references == [["steps", "d", "output", "option"]])
        #expect(workflow.steps[6].builtin?.key == "global_artifact")
        #expect(workflow.steps.allSatisfy { $0.plugin.isEmpty })
    }

    /// A join's values keep the order they and their needs were written in; a constant stays what it is.
    @Test func readsAJoinInTheOrderWritten() throws {
        let workflow = try Self.decode(
            """
              - {id: a, plugin: p, action: x}
              - {id: b, plugin: p, action: x, needs: []}
              - id: j
                needs: [a, b]
                join:
                  Quarantine Successful: {b: "{{ steps.b.success }}", a: "{{ steps.a.output.ok }}"}
                  Via: {a: from a, b: false}
            """)
        #expect(
            workflow.steps[2].builtin
                == .join(
                    JoinStep(values: [
                        JoinStep.Value(
                            name: "Quarantine Successful",
                            paths: [
                                JoinStep.Path(need: "b", template: "{{ steps.b.success }}"),
                                JoinStep.Path(need: "a", template: "{{ steps.a.output.ok }}"),
                            ]),
                        JoinStep.Value(
                            name: "Via",
                            paths: [
                                JoinStep.Path(need: "a", template: "from a"), JoinStep.Path(need: "b", template: false),
                            ]),
                    ])))
        #expect(
            try workflow.steps[2].builtin?.references()
                == [["steps", "b", "success"], ["steps", "a", "output", "ok"]])
    }

    @Test(arguments: [
        (
            "  - {id: a, match: {text: x, pattern: '(unclosed'}}\n",
            "w.yaml:4: steps[0].match.pattern: \"(unclosed\" is not a regular expression (ICU syntax)"
        ),
        (
            "  - {id: a, match: {text: x, pattern: '(?<matched>x)'}}\n",
            "w.yaml:4: steps[0].match.pattern: a group may not be named \"matched\": "
                + "the output's matched says whether it did"
        ),
        (
            "  - {id: a, plugin: p, action: x, filter: 'true'}\n",
            "w.yaml:4: steps[0].plugin: a filter step is decided by Relay itself: it has no plugin "
                + "(see docs/pipeline.md, Built-in steps)"
        ),
        (
            "  - {id: a, filter: 'true', break: true}\n",
            "w.yaml:4: steps[0].break: a step is one kind: filter and break cannot be on the same step"
        ),
        (
            "  - {id: a, decision: {question: q, options: [A, A]}}\n",
            "w.yaml:4: steps[0].decision.options: \"A\" is listed twice"
        ),
        (
            "  - {id: a, decision: {question: q, options: [A, B], default: C, timeout: 1m}}\n",
            "w.yaml:4: steps[0].decision.default: \"C\" is not one of the options (A, B)"
        ),
        (
            "  - {id: a, decision: {question: q, options: [A], default: A}}\n",
            "w.yaml:4: steps[0].decision.default: a default is the answer when the timeout passes: add timeout"
        ),
        (
            "  - {id: a, decision: {question: q, options: []}}\n",
            "w.yaml:4: steps[0].decision.options: expected a list of the answers to choose from, "
                + "such as [Approve, Reject]"
        ),
        (
            "  - {id: a, artifact: {content: x, format: pdf}}\n",
            "w.yaml:4: steps[0].artifact.format: expected markdown, html, text, found \"pdf\""
        ),
        (
            "  - {id: a, artifact: {content: \"{{ steps.later.output }}\"}}\n  - {id: later, filter: 'true'}\n",
            "w.yaml:4: steps[0].artifact: steps.later.output: step \"later\" does not come before this step; "
                + "a step may use the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, global_artifact: {name: S, lookup: {}}}\n",
            "w.yaml:4: steps[0].global_artifact.lookup: expected a mapping of fields to the values they must "
                + "equal, such as {name: \"{{ trigger.host }}\"}"
        ),
        (
            "  - {id: a, global_artifact: {name: S}}\n",
            "w.yaml:4: steps[0].global_artifact: expected either lookup (to read entries) or append (to add one)"
        ),
        (
            "  - {id: a, filter: 'steps.a.output.x ==' }\n",
            "w.yaml:4: steps[0].filter: expected an operand after \"==\" at character 20, found the end"
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: j, join: {V: {a: x}}}\n",
            "w.yaml:5: steps[1].needs: a join step takes each value from the need whose path reached it: write its "
                + "needs, such as [quarantine, release]"
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: j, needs: [a], join: {V: {b: x}}}\n",
            "w.yaml:5: steps[1].join.V.b: \"b\" is not one of the step's needs (a)"
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: j, needs: [a], join: {V: x}}\n",
            "w.yaml:5: steps[1].join.V: expected a mapping of needs (a) to the template the value takes when that "
                + "need's path reached the join, found the string \"x\""
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: j, needs: [a], join: []}\n",
            "w.yaml:5: steps[1].join: expected a mapping of value names to the template each need's path gives, "
                + "such as {Quarantine Successful: {quarantine: \"{{ steps.quarantine.success }}\"}}, found a list"
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: j, needs: [a], join: {V: {a: \"{{ steps.a.output\"}}}\n",
            "w.yaml:5: steps[1].join.V.a: \"{{\" without a closing \"}}\" in \"{{ steps.a.output\""
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, needs: []}\n"
                + "  - {id: j, needs: [a], join: {V: {a: \"{{ steps.b.output }}\"}}}\n",
            "w.yaml:6: steps[2].join: steps.b.output: step \"b\" does not come before this step; a step may use the "
                + "steps before it in the graph (its needs, and theirs)"
        ),
    ])
    func errorsNameTheLineAndKey(steps: String, message: String) {
        do {
            _ = try Self.decode(steps)
            Issue.record("expected an error: \(message)")
        } catch {
            #expect(error.message == message)
        }
    }
}
