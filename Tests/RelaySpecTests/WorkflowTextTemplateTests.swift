import RelayCore
import RelaySpec
import Testing

/// A step input holding a block tag is a text template, read and checked when the workflow is.
@Suite struct WorkflowTextTemplateTests {
    static let header = "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n"

    @Test func aTextTemplateInAnInputIsReadWithTheWorkflow() throws {
        let workflow = try WorkflowDecoder.decode(
            yaml: Self.header + """
                  - {id: lookup, plugin: p, action: x}
                  - id: post
                    plugin: p
                    action: y
                    input:
                      text: |
                        {{#each steps.lookup.output.hosts}}
                        - {{ name }}
                        {{/each}}
                """, file: "w.yaml")
        let scope = Template.Scope(
            trigger: [:], steps: ["lookup": ["output": ["hosts": [["name": "web1"], ["name": "db1"]]]]])
        #expect(try Template.render(workflow.steps[1].input, scope: scope) == ["text": "- web1\n- db1\n"])
    }

    @Test(arguments: [
        (
            "  - id: a\n    plugin: p\n    action: x\n    input:\n"
                + "      text: \"{{#each steps.a.output.l}}{{/each}}\"\n",
            #"w.yaml:8: steps[0].input: steps.a.output.l: step "a" does not come before this step; a step may use "#
                + "the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, plugin: p, action: x, input: {text: \"{{#if vars.nope}}{{/if}}\"}}\n",
            #"w.yaml:4: steps[0].input: vars.nope: unknown variable "nope"; the workflow declares none (under vars:)"#
        ),
        (
            "  - {id: a, plugin: p, action: x, input: {text: \"{{#each trigger.l}}\\n{{/if}}\"}}\n",
            "w.yaml:4: steps[0].input: {{/if}} at line 2, column 1 closes {{#each}} opened at line 1, column 1; "
                + "expected {{/each}}"
        ),
    ])
    func itsMistakesAndReferencesAreCheckedUpFront(steps: String, message: String) {
        do {
            _ = try WorkflowDecoder.decode(yaml: Self.header + steps, file: "w.yaml")
            Issue.record("accepted: \(steps)")
        } catch {
            #expect(error.message == message)
        }
    }
}
