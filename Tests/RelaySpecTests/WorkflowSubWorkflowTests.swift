import RelayCore
import RelaySpec
import Testing

/// `workflow:` steps, a workflow's `output:` and `timeout:`, and a workflow without a trigger, as the decoder reads
/// and checks them.
@Suite struct WorkflowSubWorkflowTests {
    @Test func decodesSubWorkflowStepsOutputAndTimeout() throws {
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: child
                timeout: 2m
                steps:
                  - {id: a, plugin: p, action: x, input: {v: "{{ trigger.v }}"}}
                  - {id: b, workflow: other, input: {v: "{{ steps.a.output }}"}, for_each: "{{ trigger.vs }}"}
                output: {first: "{{ steps.a.output.v }}", all: "{{ steps.b.output }}"}
                """, file: "w.yaml")
        #expect(workflow.trigger == nil)
        #expect(workflow.timeout == .seconds(120))
        #expect(workflow.output == ["first": "{{ steps.a.output.v }}", "all": "{{ steps.b.output }}"])
        #expect(workflow.steps[1].workflow == "other")
        #expect(workflow.steps[1].plugin.isEmpty && workflow.steps[1].action.isEmpty)
        #expect(workflow.source.contains("name: child"))
    }

    @Test(arguments: [
        (
            "  - {id: a, workflow: other, plugin: p}\n",
            "w.yaml:3: steps[0].plugin: a step runs either a plugin's action (plugin, action) or a workflow "
                + "(workflow), not both"
        ),
        (
            "  - {id: a, workflow: [x]}\n",
            "w.yaml:3: steps[0].workflow: expected the name of the workflow to run, found a list"
        ),
        ("  - {id: a}\n", "w.yaml:3: steps[0].plugin: expected the step's plugin (or workflow: for a sub-workflow)"),
        (
            "  - {id: a, plugin: p, action: x}\noutput: {v: \"{{ steps.b.output }}\"}\n",
            "w.yaml:4: output: steps.b.output: unknown step \"b\"; the steps are a"
        ),
        (
            "  - {id: a, plugin: p, action: x}\noutput: {v: \"{{ item }}\"}\n",
            "w.yaml:4: output: item: the output may use the trigger, the steps, the vars and the run, nothing else"
        ),
        (
            "  - {id: a, plugin: p, action: x}\ntimeout: soon\n",
            "w.yaml:4: timeout: expected a duration between 1 ms and 30 days such as 30s, 500ms or 2m, found the "
                + "string \"soon\""
        ),
    ])
    func refusesWhatCannotRun(steps: String, message: String) {
        #expect(throws: RelayError.self) {
            try WorkflowDecoder.decode(yaml: "name: w\nsteps:\n" + steps, file: "w.yaml")
        }
        do {
            _ = try WorkflowDecoder.decode(yaml: "name: w\nsteps:\n" + steps, file: "w.yaml")
        } catch {
            #expect(error.message == message)
        }
    }
}
