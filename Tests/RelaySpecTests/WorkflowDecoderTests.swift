import RelayCore
import RelaySpec
import Testing

@Suite struct WorkflowDecoderTests {
    @Test func decodesAWorkflow() throws {
        let workflow = try WorkflowDecoder.decode(yaml: """
            name: triage
            version: 2
            trigger: {plugin: webhook, trigger: webhook, input: {path: alerts}}
            steps:
              - id: a
                plugin: base64
                action: encode
                input: {content: "{{ trigger.json.text }}"}
                retry: {attempts: 3, backoff: 500ms}
                timeout: 2m
                continue_on_failure: true
              - {id: b, plugin: hashit, action: string, input: {string: "{{ steps.a.output.data }}"}, when: steps.a.status == "succeeded"}
            """, file: "w.yaml")
        #expect(workflow.name == "triage")
        #expect(workflow.version == 2)
        #expect(workflow.steps[0].retry == RetryPolicy(attempts: 3, backoff: .milliseconds(500)))
        #expect(workflow.steps[0].timeout == .seconds(120))
        #expect(workflow.steps[0].continueOnFailure)
        #expect(workflow.steps[1].when?.path == ["steps", "a", "status"])
    }

    @Test(arguments: [
        ("name: x\ntrigger: {plugin: p, trigger: t}\nsteps: []\n", "w.yaml:3: steps: a workflow needs at least one step"),
        ("name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x, input: {v: \"{{ steps.later.output }}\"}}\n  - {id: later, plugin: p, action: x}\n",
         "w.yaml:4: steps[0].input: steps.later.output: unknown step \"later\"; a step may use the steps before it"),
        ("name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x, retry: {attempts: three}}\n",
         "w.yaml:4: steps[0].retry.attempts: expected a positive integer, found the string \"three\""),
        ("name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x, timeout: soon}\n",
         "w.yaml:4: steps[0].timeout: expected a duration such as 30s, 500ms or 2m, found the string \"soon\""),
        ("name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x}\n  - {id: a, plugin: p, action: y}\n",
         "w.yaml:5: steps[1].id: \"a\" is used by an earlier step"),
        ("name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x, retries: 3}\n",
         "w.yaml:4: steps[0].retries: unknown key (a step has id, plugin, action, connection, input, continue_on_failure, retry, timeout, when)"),
    ])
    func errorsNameTheFileLineAndKey(yaml: String, message: String) {
        #expect(throws: RelayError.self) { try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml") }
        do { _ = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml") } catch { #expect(error.message == message) }
    }
}
