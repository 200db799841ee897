import Foundation
import RelayCore
import Testing

@testable import RelayEngine

/// Conditions and workflow variables in runs on the embedded bus.
@Suite struct WorkflowVarsPipelineTests {
    /// An if/else decided by an expression over a step's output and the workflow's `vars` (their defaults): the
    /// trigger's input, the steps' inputs and the run's output read the vars too.
    @Test func aDecisionOverAStepsOutputAndTheVarsChoosesTheBranch() async throws {
        let decision =
            #"(steps.scan.output.value.summary contains "critical""#
            + " or vars.watched contains steps.scan.output.value.cve)"
            + #" and length(steps.scan.output.value.hosts) >= vars["Minimum Hosts"]"#
        let pipeline = try TestPipeline(workflows: [
            #"""
            name: decide
            vars:
              watched: [cve-2020-1472, cve-2021-26855]
              Minimum Hosts: 2
              Channel Name: "#soc"
              hook: vulnerabilities
            trigger: {plugin: webhook, trigger: webhook, input: {path: "{{ vars.hook }}-found"}}
            steps:
              - {id: scan, plugin: ptest, action: echo, needs: [], input: {value: "{{ trigger }}"}}
              - id: page
                plugin: ptest
                action: echo
                needs: [scan]
                when: '\#(decision)'
                input: {text: '{{ vars["Channel Name"] }}: page for {{ steps.scan.output.value.cve }}'}
              - id: ticket
                plugin: ptest
                action: echo
                needs: [scan]
                when: 'not (\#(decision))'
                input: {text: "ticket for {{ steps.scan.output.value.cve }}"}
              - {id: close, plugin: ptest, action: echo, needs: [page, ticket], input: {text: closed}}
            output:
              cve: "{{ steps.scan.output.value.cve }}"
              page: "{{ steps.page.status }}"
              ticket: "{{ steps.ticket.status }}"
              channel: '{{ vars["Channel Name"] }}'
            """#
        ])
        // The trigger's input was rendered with the vars.
        #expect(pipeline.workflows[0].trigger?.input == ["path": "vulnerabilities-found"])
        let events: [JSONValue] = [
            // A watched CVE on two hosts: page.
            ["cve": "cve-2021-26855", "summary": "moderate", "hosts": ["a", "b"]],
            // Critical, on three hosts: page.
            ["cve": "cve-1999-0001", "summary": "a critical flaw", "hosts": ["a", "b", "c"]],
            // Watched and critical, but on one host only (fewer than the vars' minimum): ticket.
            ["cve": "cve-2020-1472", "summary": "critical", "hosts": ["a"]],
            // Neither watched nor critical: ticket.
            ["cve": "cve-2000-0002", "summary": "low", "hosts": ["a", "b"]],
        ]
        for event in events { try await pipeline.publish(event) }
        let runs = try await pipeline.finishedRuns(of: "decide", events.count)
        await pipeline.stop()
        var branches: [String: String] = [:]
        for run in runs {
            #expect(run["status"] == "succeeded", "\(run)")
            #expect(run["output"]?["channel"] == "#soc")
            let statuses = WorkflowGraphPipelineTests.statuses(run)
            #expect(statuses["close"] == "succeeded")
            let cve = run["output"]?["cve"]?.stringValue ?? "?"
            branches[cve] =
                statuses["page"] == "succeeded" ? "page" : statuses["ticket"] == "succeeded" ? "ticket" : "?"
            #expect(run["output"]?["page"]?.stringValue == statuses["page"])
            if statuses["page"] == "succeeded" {
                let page = run["steps"]?.arrayValue?.first { $0["step"] == "page" }
                #expect(page?["output"]?["text"]?.stringValue == "#soc: page for \(cve)")
            }
        }
        #expect(
            branches == [
                "cve-2021-26855": "page", "cve-1999-0001": "page", "cve-2020-1472": "ticket", "cve-2000-0002": "ticket",
            ])
    }
}
