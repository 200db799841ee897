import RelayCore
import RelayPlugins
import RelaySpec
import Testing

@testable import RelayEngine

@Suite struct WorkflowValidatorTests {
    func problems(_ yaml: String) throws -> [String] {
        let workflow = try WorkflowDecoder.decode(yaml: yaml, file: "w.yaml")
        return WorkflowValidator(
            catalog: PluginCatalog(native: try NativePlugins.all()), connections: ConnectionStore()
        ).problems(workflow)
    }

    @Test func checksPluginsActionsInputsAgainstTheSchemas() throws {
        let found = try problems(
            """
            name: x
            trigger: {plugin: timer, trigger: every, input: {}}
            steps:
              - {id: a, plugin: nope, action: x}
              - {id: b, plugin: base64, action: encrypt}
              - {id: c, plugin: base64, action: decode, input: {base64: 12, errors: strict, extra: 1}}
              - {id: d, plugin: hashit, action: string, input: {}}
              - {id: e, plugin: hashit, action: string, input: {string: "{{ steps.c.output.data }}"}, connection: mine}
            """)
        #expect(found.contains("w.yaml: trigger.trigger: plugin timer has no trigger \"every\"; it has interval, cron"))
        #expect(
            found.contains {
                $0.hasPrefix("w.yaml: steps[0].plugin: unknown plugin \"nope\"; installed: base64, hashit, hello")
            })
        #expect(
            found.contains("w.yaml: steps[1].action: plugin base64 has no action \"encrypt\"; it has encode, decode"))
        #expect(found.contains("w.yaml: steps[2].input.base64: expected string, found integer"))
        #expect(
            found.contains(
                #"w.yaml: steps[2].input.errors: expected one of ["replace", "ignore", "nothing"], found "strict""#))
        #expect(found.contains("w.yaml: steps[2].input.extra: unknown input; the step takes base64, errors"))
        #expect(found.contains("w.yaml: steps[3].input.string: required input is missing"))
        #expect(found.contains("w.yaml: steps[4].connection: unknown connection \"mine\""))
        #expect(found.count == 8, "\(found)")
    }

    /// An interval of 0 or less passed validation and the trigger then failed and restarted forever; one past a
    /// year trapped in its sleep.
    @Test(arguments: [0, -5, 365 * 86_400 + 1])
    func aTimerIntervalOutOfRangeIsAProblem(seconds: Int) throws {
        let found = try problems(
            """
            name: x
            trigger: {plugin: timer, trigger: interval, input: {seconds: \(seconds)}}
            steps:
              - {id: a, plugin: base64, action: encode, input: {content: hi}}
            """)
        #expect(
            found == [
                "w.yaml: trigger.input.seconds: expected a number of seconds between 1 and 31536000 "
                    + "(a year), found \(seconds)"
            ])
    }

    @Test func aTimerIntervalInRangeIsNoProblem() throws {
        let found = try problems(
            """
            name: x
            trigger: {plugin: timer, trigger: interval, input: {seconds: 1}}
            steps:
              - {id: a, plugin: base64, action: encode, input: {content: hi}}
            """)
        #expect(found == [])
    }

    @Test func aPollIntervalPastAYearIsAProblem() throws {
        let found = try problems(
            """
            name: x
            trigger: {plugin: hello, trigger: poll_greetings, input: {directory: /tmp, interval: 99999999999}}
            steps:
              - {id: a, plugin: base64, action: encode, input: {content: hi}}
            """)
        #expect(
            found == [
                "w.yaml: trigger.input.interval: expected at most 31536000 seconds (a year), "
                    + "found 99999999999"
            ])
    }

    @Test func theExampleProjectIsValid() throws {
        let root = TestPlugins.packageRoot.appendingPathComponent("examples/project").path
        let project = try Project.load(directory: root, native: try NativePlugins.all())
        #expect(
            project.workflows.map(\.name).sorted() == ["enrich-indicator", "timer-demo", "triage", "webhook-demo"])
        // The playbook: its loop runs the sub-workflow, which has no trigger of its own.
        let triage = try #require(project.workflows.first { $0.name == "triage" })
        #expect(triage.steps.contains { $0.workflow == "enrich-indicator" && $0.forEach != nil })
        #expect(project.workflows.first { $0.name == "enrich-indicator" }?.trigger == nil)
    }
}

/// What only the set of workflows shows: unknown sub-workflows and recursion.
@Suite struct WorkflowSetValidationTests {
    static func workflow(_ name: String, calls: [String]) throws -> Workflow {
        let steps = calls.enumerated().map { "  - {id: s\($0.offset), workflow: \($0.element)}" }.joined(
            separator: "\n")
        return try WorkflowDecoder.decode(
            yaml: "name: \(name)\nsteps:\n  - {id: a, plugin: p, action: x}\n\(steps)\n", file: "\(name).yaml")
    }

    @Test func unknownSubWorkflowsAreNamed() throws {
        let problems = WorkflowValidator.problems(in: [try Self.workflow("a", calls: ["nope"])])
        #expect(problems == ["a.yaml: steps[1].workflow: unknown workflow \"nope\"; the workflows are a"])
    }

    @Test func recursionDirectOrThroughOthersIsRefusedWithTheChain() throws {
        let direct = WorkflowValidator.problems(in: [try Self.workflow("a", calls: ["a"])])
        #expect(direct == ["a.yaml: steps[1].workflow: the workflow calls itself: a → a"])
        let through = WorkflowValidator.problems(in: [
            try Self.workflow("a", calls: ["b"]), try Self.workflow("b", calls: ["c"]),
            try Self.workflow("c", calls: ["a"]), try Self.workflow("d", calls: ["a"]),
        ])
        #expect(through == ["a.yaml: steps[1].workflow: the workflow calls itself: a → b → c → a"])
        // A diamond of calls is no recursion.
        let diamond = WorkflowValidator.problems(in: [
            try Self.workflow("a", calls: ["b", "c"]), try Self.workflow("b", calls: ["d"]),
            try Self.workflow("c", calls: ["d"]), try Self.workflow("d", calls: []),
        ])
        #expect(diamond.isEmpty)
    }
}
