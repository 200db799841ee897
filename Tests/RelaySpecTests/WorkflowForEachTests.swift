import RelayCore
import RelaySpec
import Testing

/// `for_each` and `concurrency`: how they are read, and what validation refuses.
@Suite struct WorkflowForEachTests {
    static func decode(_ steps: String) throws -> Workflow {
        try WorkflowDecoder.decode(yaml: WorkflowGraphTests.head + steps, file: "w.yaml")
    }

    @Test func aForEachStepKeepsItsTemplateAndConcurrencyWhichDefaultsToTen() throws {
        let workflow = try Self.decode(
            """
              - {id: list, plugin: p, action: x}
              - id: each
                plugin: p
                action: x
                for_each: "{{ steps.list.output.ips }}"
                concurrency: 5
                input: {ip: "{{ item }}", position: "{{ index }}", host: "{{ item.host }} at {{ trigger.site }}"}
              - {id: again, plugin: p, action: x, for_each: "{{ trigger.hosts }}", input: {h: "{{ item }}"}}
            """)
        #expect(workflow.steps[1].forEach == "{{ steps.list.output.ips }}")
        #expect(workflow.steps[1].concurrency == 5)
        #expect(workflow.steps[2].forEach == "{{ trigger.hosts }}")
        #expect(workflow.steps[2].concurrency == 10)
        #expect(workflow.steps[0].forEach == nil)
    }

    @Test(arguments: [
        (
            "  - {id: a, plugin: p, action: x, for_each: [1, 2]}\n",
            "w.yaml:4: steps[0].for_each: expected a template that renders to an array, such as "
                + "\"{{ steps.list.output.ips }}\", found a list"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"hosts\"}\n",
            "w.yaml:4: steps[0].for_each: expected a template that renders to an array, such as "
                + "\"{{ steps.list.output.ips }}\" (one reference), found \"hosts\""
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ trigger.a }} and {{ trigger.b }}\"}\n",
            "w.yaml:4: steps[0].for_each: expected a template that renders to an array, such as "
                + "\"{{ steps.list.output.ips }}\" (one reference), found \"{{ trigger.a }} and {{ trigger.b }}\""
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ item }}\"}\n",
            "w.yaml:4: steps[0].for_each: item: item and index exist only in the step's input; for_each may use "
                + "the trigger, the steps before it and the vars"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ trigger.hosts }}\", concurrency: 0}\n",
            "w.yaml:4: steps[0].concurrency: expected an integer between 1 and 1000, found the integer 0"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ trigger.hosts }}\", concurrency: 1001}\n",
            "w.yaml:4: steps[0].concurrency: expected an integer between 1 and 1000, found the integer 1001"
        ),
        (
            "  - {id: a, plugin: p, action: x, concurrency: 3}\n",
            "w.yaml:4: steps[0].concurrency: concurrency applies only to a step with for_each"
        ),
        (
            "  - {id: a, plugin: p, action: x, input: {v: \"{{ item.host }}\"}}\n",
            "w.yaml:4: steps[0].input: item.host: item and index exist only in the input of a step with for_each"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ trigger.hosts }}\", when: index == 1}\n",
            "w.yaml:4: steps[0].when: index: item and index exist only in the input of a step with for_each"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ steps.b.output }}\"}\n"
                + "  - {id: b, plugin: p, action: x, needs: []}\n",
            "w.yaml:4: steps[0].for_each: steps.b.output: step \"b\" does not come before this step; for_each may "
                + "use the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ trigger.x }}\", input: {v: \"{{ index.n }}\"}}\n",
            "w.yaml:4: steps[0].input: \"index.n\": index is a number, it has no n"
        ),
    ])
    func forEachIsValidatedWithFileLineAndKey(steps: String, message: String) {
        do {
            _ = try Self.decode(steps)
            Issue.record("expected: \(message)")
        } catch let error as RelayError {
            #expect(error.message == message)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
