import RelayCore
import RelaySpec
import Testing

/// A workflow's `vars:` and its `when:` conditions as the decoder reads and checks them.
@Suite struct WorkflowVarsTests {
    static func decode(_ yaml: String) throws -> Workflow {
        try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml")
    }

    @Test func varsAreNamedValuesThatTemplatesConditionsForEachAndOutputRead() throws {
        let workflow = try Self.decode(
            #"""
            name: v
            vars:
              Channel Name: "#soc"
              threshold: 2
              watched: [cve-2020-1472]
              settings: {mode: strict}
            trigger: {plugin: p, trigger: t, input: {channel: '{{ vars["Channel Name"] }}', n: "{{ vars.threshold }}"}}
            steps:
              - id: a
                plugin: p
                action: x
                for_each: "{{ vars.watched }}"
                when: length(vars.watched) >= vars.threshold or vars.settings.mode == strict
                input: {text: '{{ vars["Channel Name"] }}: {{ item }}'}
            output: {channel: '{{ vars["Channel Name"] }}', all: "{{ vars }}"}
            """#)
        #expect(
            workflow.vars == [
                "Channel Name": "#soc", "threshold": 2, "watched": ["cve-2020-1472"], "settings": ["mode": "strict"],
            ])
        #expect(Array(workflow.vars.keys) == ["Channel Name", "threshold", "watched", "settings"])
        // The trigger's input is rendered with the vars: its instance is the one for that input.
        #expect(workflow.trigger?.input == ["channel": "#soc", "n": 2])
        #expect(
            workflow.steps[0].when?.references == [
                ["vars", "watched"], ["vars", "threshold"], ["vars", "settings", "mode"],
            ])
    }

    @Test func twoWorkflowsWhoseTriggerInputsRenderAlikeShareAnInstanceAndOthersDoNot() throws {
        func workflow(_ channel: String) throws -> Workflow {
            try Self.decode(
                """
                name: v
                vars: {channel: "\(channel)"}
                trigger: {plugin: p, trigger: t, input: {channel: "{{ vars.channel }}"}}
                steps: [{id: a, plugin: p, action: x}]
                """)
        }
        let plain = try Self.decode(
            "name: v\ntrigger: {plugin: p, trigger: t, input: {channel: soc}}\nsteps: [{id: a, plugin: p, action: x}]\n"
        )
        #expect(try workflow("soc").trigger?.instanceID == plain.trigger?.instanceID)
        #expect(try workflow("noc").trigger?.instanceID != plain.trigger?.instanceID)
    }

    @Test func anEmptyVarsIsNoVars() throws {
        #expect(try Self.decode("name: v\nvars:\nsteps: [{id: a, plugin: p, action: x}]\n").vars == [:])
        #expect(try Self.decode("name: v\nvars: {}\nsteps: [{id: a, plugin: p, action: x}]\n").vars == [:])
    }

    @Test(arguments: [
        (
            "name: v\nvariables: {a: 1}\nsteps: [{id: a, plugin: p, action: x}]\n",
            "w.yaml:2: variables: unknown key (a workflow has name, version, description, vars, trigger, steps, "
                + "output, timeout)"
        ),
        (
            "name: v\nvars: [a, b]\nsteps: [{id: a, plugin: p, action: x}]\n",
            "w.yaml:2: vars: expected a mapping of variable names to their values, such as {channel: \"#soc\"}, "
                + "found a list"
        ),
        (
            "name: v\nvars: {'': 1}\nsteps: [{id: a, plugin: p, action: x}]\n",
            "w.yaml:2: vars: a variable's name cannot be empty"
        ),
        (
            "name: v\nvars: {Channel Name: x, limit: 1}\nsteps:\n"
                + "  - {id: a, plugin: p, action: x, input: {v: '{{ vars[\"channel name\"] }}'}}\n",
            "w.yaml:4: steps[0].input: vars[\"channel name\"]: unknown variable \"channel name\"; the workflow's vars "
                + "are \"Channel Name\", \"limit\""
        ),
        (
            "name: v\nsteps:\n  - {id: a, plugin: p, action: x, when: vars.enabled}\n",
            "w.yaml:3: steps[0].when: vars.enabled: unknown variable \"enabled\"; the workflow declares none "
                + "(under vars:)"
        ),
        (
            "name: v\nvars: {enabled: true}\nsteps:\n"
                + "  - {id: a, plugin: p, action: x, for_each: \"{{ vars.list }}\"}\n",
            "w.yaml:4: steps[0].for_each: vars.list: unknown variable \"list\"; the workflow's vars are \"enabled\""
        ),
        (
            "name: v\nvars: {enabled: true}\nsteps:\n  - {id: a, plugin: p, action: x}\n"
                + "output: {x: \"{{ vars.missing }}\"}\n",
            "w.yaml:5: output: vars.missing: unknown variable \"missing\"; the workflow's vars are \"enabled\""
        ),
        (
            "name: v\nvars: {enabled: true}\ntrigger: {plugin: p, trigger: t, input: {x: \"{{ vars.missing }}\"}}\n"
                + "steps: [{id: a, plugin: p, action: x}]\n",
            "w.yaml:3: trigger.input: vars.missing: unknown variable \"missing\"; the workflow's vars are \"enabled\""
        ),
        (
            "name: v\ntrigger: {plugin: p, trigger: t, input: {x: \"{{ trigger.json.a }}\"}}\n"
                + "steps: [{id: a, plugin: p, action: x}]\n",
            "w.yaml:2: trigger.input: trigger.json.a: a trigger's input may use the workflow's vars only"
        ),
        (
            "name: v\nvars: {enabled: {a: 1}}\ntrigger: {plugin: p, trigger: t, input: {x: \"{{ vars.enabled.b }}\"}}\n"
                + "steps: [{id: a, plugin: p, action: x}]\n",
            "w.yaml:3: trigger.input: vars.enabled.b does not exist"
        ),
    ])
    func validationRefusesVarsThatAreNotDeclaredOrMisplaced(yaml: String, message: String) {
        #expect(Self.message(decoding: yaml) == message)
    }

    /// The decoding error's message; nil when the workflow decodes.
    static func message(decoding yaml: String) -> String? {
        do {
            _ = try decode(yaml)
            return nil
        } catch let error as RelayError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, when: steps.a.output.ok and )}\n",
            "w.yaml:5: steps[1].when: expected an operand after \"and\" at character 23, found \")\""
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, when: 'trigger.os matches \"[\"'}\n",
            "w.yaml:5: steps[1].when: \"[\" at character 20 is not a valid regular expression"
        ),
        (
            "  - {id: a, plugin: p, action: x, needs: []}\n  - {id: b, plugin: p, action: x, needs: []}\n"
                + "  - {id: c, plugin: p, action: x, needs: [a], when: steps.a.output.ok and steps.b.output.ok}\n",
            "w.yaml:6: steps[2].when: steps.b.output.ok: step \"b\" does not come before this step; a condition may "
                + "use the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, plugin: p, action: x, when: 'is_defined(steps.a.output[\"Threat Score\"])'}\n",
            "w.yaml:4: steps[0].when: steps.a.output[\"Threat Score\"]: step \"a\" does not come before this step; a "
                + "condition may use the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, plugin: p, action: x, for_each: \"{{ trigger.hosts }}\", when: length(item) > 0}\n",
            "w.yaml:4: steps[0].when: item: item and index exist only in the input of a step with for_each"
        ),
        (
            "  - {id: a, plugin: p, action: x, when: '" + String(repeating: "(", count: 65) + "trigger.x"
                + String(repeating: ")", count: 65) + "'}\n",
            "w.yaml:4: steps[0].when: nested deeper than 64 levels (parentheses, not, functions) at character 65"
        ),
    ])
    func conditionsAreCheckedReferenceByReference(steps: String, message: String) {
        #expect(Self.message(decoding: "name: c\ntrigger: {plugin: p, trigger: t}\nsteps:\n" + steps) == message)
    }

    @Test func aConditionMayReadEveryStepBeforeItAndQuotedKeys() throws {
        let workflow = try Self.decode(
            #"""
            name: c
            vars: {watched: [cve-2020-1472]}
            steps:
              - {id: scan, plugin: p, action: x, needs: []}
              - {id: owner, plugin: p, action: x, needs: []}
              - id: page
                plugin: p
                action: x
                needs: [scan, owner]
                when: >-
                  (steps.scan.output["Threat Score"] > 80 or vars.watched contains steps.scan.output.cve)
                  and length(steps.owner.output.name) > 0 and not steps.owner.output.name matches '^svc-'
            """#)
        #expect(
            workflow.steps[2].when?.references == [
                ["steps", "scan", "output", "Threat Score"], ["vars", "watched"], ["steps", "scan", "output", "cve"],
                ["steps", "owner", "output", "name"], ["steps", "owner", "output", "name"],
            ])
    }
}
