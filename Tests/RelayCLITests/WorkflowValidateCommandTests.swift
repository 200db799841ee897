import Foundation
import Testing

/// `relay workflow validate --dir` on projects with out-of-range numbers: a clean error naming the file and line
/// (exit status 2), where it used to die of SIGILL ("Double value cannot be converted to Int"); and on the example
/// project, which must stay valid.
@Suite struct WorkflowValidateCommandTests {
    func validate(workflow: String) async throws -> RelayProcess.Result {
        let project = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-validate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: project) }
        let workflows = project.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        try workflow.write(to: workflows.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        return try await RelayProcess.run(
            ["workflow", "validate", "--dir", project.path],
            environment: ["RELAY_MASTER_KEY": "", "RELAY_MASTER_KEY_FILE": ""])
    }

    @Test(arguments: [
        ("timeout: .inf", "steps[0].timeout", "the number Infinity"),
        ("timeout: 1e17s", "steps[0].timeout", "the string \"1e17s\""),
        ("timeout: 99999999999999999999h", "steps[0].timeout", "the string \"99999999999999999999h\""),
        ("retry: {backoff: .inf}", "steps[0].retry.backoff", "the number Infinity"),
    ])
    func anOutOfRangeDurationIsAnErrorWithFileAndLine(field: String, key: String, found: String) async throws {
        let message = "7: \(key): expected a duration between 1 ms and 30 days, found \(found)"
        let result = try await validate(
            workflow: """
                name: bad
                trigger: {plugin: webhook, trigger: webhook, input: {path: bad}}
                steps:
                  - id: a
                    plugin: base64
                    action: encode
                    \(field)
                    input: {content: hi}
                """)
        #expect(!result.signalled, "relay died of signal \(result.status): \(result.stderr)")
        #expect(result.status == 2)
        #expect(result.stderr.contains("workflows/bad.yaml:" + message), "\(result.stderr)")
    }

    /// What `scripts/run` starts: the example project, the playbook and its sub-workflow included, is valid.
    @Test func theExampleProjectIsValid() async throws {
        let example = RelayProcess.packageRoot.appendingPathComponent("examples/project").path
        let result = try await RelayProcess.run(
            ["workflow", "validate", "--dir", example],
            environment: ["RELAY_MASTER_KEY": "", "RELAY_MASTER_KEY_FILE": ""])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == "4 workflow(s) valid: enrich-indicator, timer-demo, triage, webhook-demo\n",
            "\(result.stdout)")
    }

    @Test func aTimerIntervalOfZeroIsAnErrorWithFileAndKey() async throws {
        let result = try await validate(
            workflow: """
                name: bad
                trigger: {plugin: timer, trigger: interval, input: {seconds: 0}}
                steps:
                  - {id: a, plugin: base64, action: encode, input: {content: hi}}
                """)
        #expect(!result.signalled)
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "workflows/bad.yaml: trigger.input.seconds: expected a number of seconds between 1"), "\(result.stderr)"
        )
    }
}
