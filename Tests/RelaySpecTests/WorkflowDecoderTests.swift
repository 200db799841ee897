import RelayCore
import RelaySpec
import Testing

@Suite struct WorkflowDecoderTests {
    @Test func decodesAWorkflow() throws {
        let workflow = try WorkflowDecoder.decode(
            yaml: """
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
                  - {id: b, plugin: hashit, action: string, input: {string: "{{ steps.a.output.data }}"},
                     when: steps.a.status == "succeeded"}
                """, file: "w.yaml")
        #expect(workflow.name == "triage")
        #expect(workflow.version == 2)
        #expect(workflow.steps[0].retry == RetryPolicy(attempts: 3, backoff: .milliseconds(500)))
        #expect(workflow.steps[0].timeout == .seconds(120))
        #expect(workflow.steps[0].continueOnFailure)
        #expect(workflow.steps[1].when?.references == [["steps", "a", "status"]])
    }

    @Test(arguments: [
        (
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps: []\n",
            "w.yaml:3: steps: a workflow needs at least one step"
        ),
        (
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n"
                + "  - {id: a, plugin: p, action: x, input: {v: \"{{ steps.later.output }}\"}}\n"
                + "  - {id: later, plugin: p, action: x}\n",
            "w.yaml:4: steps[0].input: steps.later.output: step \"later\" does not come before this step; "
                + "a step may use the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n"
                + "  - {id: a, plugin: p, action: x, retry: {attempts: three}}\n",
            "w.yaml:4: steps[0].retry.attempts: expected an integer between 1 and 100, found the string \"three\""
        ),
        (
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x, timeout: soon}\n",
            "w.yaml:4: steps[0].timeout: expected a duration between 1 ms and 30 days such as 30s, 500ms or 2m, "
                + "found the string \"soon\""
        ),
        (
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n"
                + "  - {id: a, plugin: p, action: x}\n  - {id: a, plugin: p, action: y}\n",
            "w.yaml:5: steps[1].id: \"a\" is used by an earlier step"
        ),
        (
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - {id: a, plugin: p, action: x, retries: 3}\n",
            "w.yaml:4: steps[0].retries: unknown key (a step has id, plugin, action, connection, input, "
                + "continue_on_failure, retry, timeout, when, needs, for_each, concurrency, workflow, artifact, "
                + "match, filter, break, decision, global_artifact, join)"
        ),
    ])
    func errorsNameTheFileLineAndKey(yaml: String, message: String) {
        #expect(throws: RelayError.self) { try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml") }
        do { _ = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml") } catch { #expect(error.message == message) }
    }

    /// Durations and counts out of range are errors with the line, not traps ("Double value cannot be converted to
    /// Int") and not a zero timeout that fails every step.
    @Test(arguments: [
        ("timeout: .inf", "steps[0].timeout", "the number Infinity"),
        ("timeout: 1e17s", "steps[0].timeout", "the string \"1e17s\""),
        ("timeout: 99999999999999999999h", "steps[0].timeout", "the string \"99999999999999999999h\""),
        ("timeout: 9223372036854775807", "steps[0].timeout", "the integer 9223372036854775807"),
        ("timeout: 2592001", "steps[0].timeout", "the integer 2592001"),
        ("timeout: 0s", "steps[0].timeout", "the string \"0s\""),
        ("timeout: 0", "steps[0].timeout", "the integer 0"),
        ("timeout: 0.0001", "steps[0].timeout", "the number 0.0001"),
        ("timeout: -5s", "steps[0].timeout", "the string \"-5s\""),
        ("retry: {backoff: .inf}", "steps[0].retry.backoff", "the number Infinity"),
        ("retry: {backoff: 1e300ms}", "steps[0].retry.backoff", "the string \"1e300ms\""),
    ])
    func durationsOutOfRangeNameTheLine(field: String, path: String, found: String) {
        let yaml =
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n  - id: a\n    plugin: p\n    action: x\n"
            + "    \(field)\n"
        #expect(throws: RelayError.self) { try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml") }
        do { _ = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml") } catch {
            #expect(error.message == "w.yaml:7: \(path): expected a duration between 1 ms and 30 days, found \(found)")
        }
    }

    @Test func aTaskIntervalOutOfRangeNamesTheLine() {
        let yaml = "name: x\ntrigger: {plugin: p, task: t, every: .inf}\nsteps:\n  - {id: a, plugin: p, action: x}\n"
        do {
            _ = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml")
            Issue.record("an infinite interval was accepted")
        } catch {
            #expect(
                error.message
                    == "w.yaml:2: trigger.every: expected a duration between 1 ms and 30 days, found the "
                    + "number Infinity"
            )
        }
    }

    @Test func attemptsAreBounded() {
        let yaml =
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n"
            + "  - {id: a, plugin: p, action: x, retry: {attempts: 1000000}}\n"
        do {
            _ = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml")
            Issue.record("a million attempts were accepted")
        } catch {
            #expect(
                error.message == "w.yaml:4: steps[0].retry.attempts: expected an integer between 1 and 100, "
                    + "found the integer 1000000")
        }
    }

    @Test func durationsAtTheLimitsAreAccepted() throws {
        let yaml =
            "name: x\ntrigger: {plugin: p, trigger: t}\nsteps:\n"
            + "  - {id: a, plugin: p, action: x, timeout: 1ms, retry: {attempts: 100, backoff: 720h}}\n"
            + "  - {id: b, plugin: p, action: x, timeout: 2592000}\n"
        let workflow = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml")
        #expect(workflow.steps[0].timeout == .milliseconds(1))
        #expect(workflow.steps[0].retry.backoff == .seconds(30 * 86_400))
        #expect(workflow.steps[1].timeout == .seconds(30 * 86_400))
    }
}
