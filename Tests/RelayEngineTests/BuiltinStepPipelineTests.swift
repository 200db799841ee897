import Foundation
import RelayCore
import RelayStore
import RelayTestSupport
import Testing

@testable import RelayEngine

/// Built-in steps (`match`, `filter`, `artifact`, `break`, `decision`, `global_artifact`, `join`) in runs on the
/// embedded bus: decided by the dispatcher, recorded like any step.
@Suite struct BuiltinStepPipelineTests {
    static let manual = PipelineTests.manual

    static func step(_ run: JSONValue, _ id: String) -> JSONValue? {
        run["steps"]?.arrayValue?.last { $0["step"]?.stringValue == id }
    }

    /// A chat command parsed by a pattern, a filter on whether it matched, then an action and an artifact that read
    /// the captures; `steps.ID.success` and `run.id` in templates. A message that does not match stops at the filter.
    @Test func aMatchFeedsAFilterAnActionAndAnArtifact() async throws {
        let pipeline = try TestPipeline(workflows: [
            #"""
            name: command
            \#(Self.manual)steps:
              - id: parse
                match:
                  text: "{{ trigger.text }}"
                  pattern: '^!block (?<host>\S+)(?: for (?<minutes>\d+))?'
                  ignore_case: true
              - {id: known, filter: steps.parse.output.matched}
              - {id: block, plugin: ptest, action: echo, input: {text: "{{ steps.parse.output.host }}"}}
              - id: report
                artifact:
                  name: Blocked host
                  content: >-
                    Blocked {{ steps.block.output.text }}{{#if steps.parse.output.minutes}} for
                    {{ steps.parse.output.minutes }} min{{/if}} ({{ steps.block.success }}) in {{ run.id }}
            """#
        ])
        try await pipeline.publish(["text": "!BLOCK 10.0.0.7 for 30 please"])
        let blocked = try #require(try await pipeline.finishedRuns(of: "command").first)
        try await pipeline.publish(["text": "hello there"])
        let runs = try await pipeline.finishedRuns(of: "command", 2)
        let artifacts = try await pipeline.store.artifacts(runID: blocked["id"]?.stringValue ?? "")
        await pipeline.stop()
        // The document is kept with the run.
        #expect(artifacts.map(\.name) == ["Blocked host"])
        #expect(artifacts.first?.format == .markdown)
        #expect(artifacts.first?.stepID == "report")
        #expect(artifacts.first?.content.hasPrefix("Blocked 10.0.0.7 for 30 min (true) in run-") == true)
        #expect(blocked["status"] == "succeeded", "\(blocked)")
        let id = try #require(blocked["id"]?.stringValue)
        #expect(Self.step(blocked, "parse")?["output"] == ["matched": true, "host": "10.0.0.7", "minutes": "30"])
        #expect(Self.step(blocked, "known")?["output"] == ["passed": true])
        #expect(Self.step(blocked, "block")?["output"] == ["text": "10.0.0.7"])
        #expect(
            Self.step(blocked, "report")?["output"]
                == [
                    "name": "Blocked host", "format": "markdown",
                    "content": .string("Blocked 10.0.0.7 for 30 min (true) in \(id)"),
                ])
        let ignored = try #require(runs.last)
        #expect(ignored["status"] == "succeeded", "\(ignored)")
        #expect(Self.step(ignored, "parse")?["output"] == ["matched": false, "host": nil, "minutes": nil])
        #expect(Self.step(ignored, "known")?["status"] == "skipped")
        #expect(
            Self.step(ignored, "known")?["error"]?.stringValue == "filter did not pass: steps.parse.output.matched")
        // The filter stops its path: the steps after it (without written needs) are skipped.
        #expect(Self.step(ignored, "block")?["status"] == "skipped")
        #expect(Self.step(ignored, "report")?["status"] == "skipped")
    }

    /// `all: true` collects every match's captures; a pattern that backtracks without end fails its step with the
    /// reason instead of stalling the dispatcher.
    @Test func matchAllCollectsEveryCaptureAndARunawayPatternFailsItsStep() async throws {
        let pipeline = try TestPipeline(workflows: [
            #"""
            name: cves
            \#(Self.manual)steps:
              - id: find
                match: {text: "{{ trigger.text }}", pattern: 'CVE-(?<year>\d{4})-\d+', all: true}
              - id: runaway
                continue_on_failure: true
                match: {text: "{{ trigger.bomb }}", pattern: '^(a+)+$'}
            """#
        ])
        let bomb = String(repeating: "a", count: 40) + "b"
        try await pipeline.publish(["text": "CVE-2020-1472 and cve-2021-26855, CVE-2019-0708", "bomb": .string(bomb)])
        let run = try #require(try await pipeline.finishedRuns(of: "cves").first)
        await pipeline.stop()
        #expect(Self.step(run, "find")?["output"] == ["matched": true, "year": ["2020", "2019"]])
        #expect(Self.step(run, "runaway")?["status"] == "failed")
        #expect(Self.step(run, "runaway")?["error"]?.stringValue?.contains("took longer than 250 ms") == true)
        #expect(run["status"] == "succeeded", "\(run)")
    }

    /// A loop over a sub-workflow whose body breaks at the third item: no further item starts; the loop step
    /// succeeds with the outputs of the items that ran; the break's run succeeds.
    @Test func aBreakInALoopsBodyStartsNoFurtherItems() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: loop
            \(Self.manual)steps:
              - {id: each, workflow: body, for_each: "{{ trigger.items }}", concurrency: 1, input: {n: "{{ item }}"}}
              - {id: after, plugin: ptest, action: echo, input: {value: {seen: "{{ steps.each.output }}"}}}
            """,
            """
            name: body
            steps:
              - {id: look, plugin: ptest, action: echo, input: {number: "{{ trigger.n }}"}}
              - {id: stop, break: steps.look.output.number == 3}
              - {id: more, plugin: ptest, action: echo, input: {number: "{{ steps.look.output.number }}"}}
            output: "{{ steps.look.output.number }}"
            """,
        ])
        try await pipeline.publish(["items": [1, 2, 3, 4, 5]])
        let run = try #require(try await pipeline.finishedRuns(of: "loop").first)
        let bodies = try await pipeline.finishedRuns(of: "body", 3)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        #expect(Self.step(run, "each")?["output"] == [1, 2, 3, nil, nil])
        #expect(Self.step(run, "after")?["output"] == ["value": ["seen": [1, 2, 3, nil, nil]]])
        let items = Self.step(run, "each")?["items"]?.arrayValue ?? []
        #expect(
            items.map { $0["status"]?.stringValue ?? "" } == [
                "succeeded", "succeeded", "succeeded", "skipped", "skipped",
            ])
        #expect(items.last?["error"]?.stringValue == "not run: item 2 left the loop at body.stop")
        #expect(bodies.count == 3)
        let broke = try #require(bodies.first { $0["output"] == 3 })
        #expect(broke["status"] == "succeeded")
        #expect(Self.step(broke, "stop")?["output"] == ["broke": true])
        // The break ended the run: the step after it never started.
        #expect(Self.step(broke, "more") == nil)
        let went = try #require(bodies.first { $0["output"] == 1 })
        #expect(Self.step(went, "stop")?["output"] == ["broke": false])
        #expect(Self.step(went, "more")?["status"] == "succeeded")
    }

    /// A body written as an imported InsightConnect loop's is: written `needs` on every step, and an `output` that
    /// lists every step (for `$outputs`). The item that breaks never reaches the step after the break: its output
    /// reads that step as null and keeps what the item did (not a null output); the loop succeeds.
    @Test func theOutputOfARunABreakEndedReadsTheStepsItNeverReachedAsNull() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: loop
            \(Self.manual)steps:
              - {id: each, workflow: body, for_each: "{{ trigger.items }}", concurrency: 1, input: {n: "{{ item }}"}}
            """,
            """
            name: body
            steps:
              - {id: look, plugin: ptest, action: echo, input: {number: "{{ trigger.n }}"}}
              - {id: stop, break: steps.look.output.number == 2, needs: [look]}
              - {id: more, plugin: ptest, action: echo, needs: [stop],
                 input: {number: "{{ steps.look.output.number }}"}}
            output:
              look: "{{ steps.look.output }}"
              stop: "{{ steps.stop.output }}"
              more: "{{ steps.more.output }}"
              more_ran: "{{ steps.more.success }}"
            """,
        ])
        try await pipeline.publish(["items": [1, 2, 3]])
        let run = try #require(try await pipeline.finishedRuns(of: "loop").first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        #expect(
            Self.step(run, "each")?["output"]
                == [
                    ["look": ["number": 1], "stop": ["broke": false], "more": ["number": 1], "more_ran": true],
                    ["look": ["number": 2], "stop": ["broke": true], "more": nil, "more_ran": false],
                    nil,
                ])
    }

    /// A decision with a default at `timeout`, and the branches it chooses.
    static func approval(_ name: String, timeout: String) -> String {
        """
        name: \(name)
        trigger: {plugin: webhook, trigger: webhook, input: {path: \(name)}}
        steps:
          - id: ask
            decision:
              question: "Quarantine {{ trigger.host }}?"
              options: [Quarantine, Ignore]
              timeout: \(timeout)
              default: Ignore
          - {id: quarantine, plugin: ptest, action: echo, needs: [ask], when: steps.ask.output.option == Quarantine,
             input: {value: {host: "{{ trigger.host }}", by: "{{ steps.ask.output.answered_by }}"}}}
          - {id: note, plugin: ptest, action: echo, needs: [ask], when: steps.ask.output.option == Ignore,
             input: {text: "left {{ trigger.host }} alone"}}
        """
    }

    /// A decision waits with its question; a wrong option changes nothing; an answer picks the branch; a decision
    /// nobody answers takes its default at its timeout.
    @Test func aDecisionWaitsForItsAnswerOrTakesItsDefault() async throws {
        // The answered one waits up to ten minutes (no race with a loaded machine); the other's default comes at once.
        let pipeline = try TestPipeline(workflows: [
            Self.approval("approve", timeout: "10m"), Self.approval("hurry", timeout: "200ms"),
        ])
        try await pipeline.publish(["host": "laptop-7"])
        let waiting = try #require(
            try await pipeline.waitForRun(of: "approve") { run in
                run.steps.contains { $0.stepID == "ask" && $0.status == .running }
            })
        let ask = try #require(waiting.steps.first { $0.stepID == "ask" })
        #expect(ask.input == ["question": "Quarantine laptop-7?", "options": ["Quarantine", "Ignore"]])
        let id = waiting.summary.id
        try await pipeline.control(RunControl.answer(runID: id, stepID: "ask", option: "Reboot", by: "mallory"))
        try await pipeline.control(RunControl.answer(runID: id, stepID: "ask", option: "Quarantine", by: "alice"))
        let answered = try #require(try await pipeline.finishedRuns(of: "approve").first)
        #expect(answered["status"] == "succeeded", "\(answered)")
        #expect(Self.step(answered, "ask")?["output"]?["option"] == "Quarantine")
        #expect(Self.step(answered, "ask")?["output"]?["answered_by"] == "alice")
        #expect(Self.step(answered, "ask")?["output"]?["timed_out"] == false)
        #expect(Self.step(answered, "quarantine")?["output"] == ["value": ["host": "laptop-7", "by": "alice"]])
        #expect(Self.step(answered, "note")?["status"] == "skipped")

        // Nobody answers this one.
        try await pipeline.publish(["host": "server-2"], workflow: 1)
        let defaulted = try #require(try await pipeline.finishedRuns(of: "hurry").first)
        await pipeline.stop()
        #expect(defaulted["status"] == "succeeded", "\(defaulted)")
        #expect(Self.step(defaulted, "ask")?["output"]?["option"] == "Ignore")
        #expect(Self.step(defaulted, "ask")?["output"]?["timed_out"] == true)
        #expect(Self.step(defaulted, "note")?["output"] == ["text": "left server-2 alone"])
        #expect(Self.step(defaulted, "quarantine")?["status"] == "skipped")
    }

    /// Cancelling a run whose decision waits ends the decision as not finished; resuming it asks again.
    @Test func aCancelledDecisionIsAskedAgainOnResume() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: gate
            \(Self.manual)steps:
              - {id: ask, decision: {question: "Go?", options: [Go]}}
              - {id: go, plugin: ptest, action: echo, input: {text: "{{ steps.ask.output.option }}"}}
            """
        ])
        try await pipeline.publish(["x": 1])
        let waiting = try #require(
            try await pipeline.waitForRun(of: "gate") {
                $0.steps.contains { $0.stepID == "ask" && $0.status == .running }
            })
        try await pipeline.control(RunControl(command: .cancel, runID: waiting.summary.id))
        let cancelled = try #require(try await pipeline.finishedRuns(of: "gate").first)
        #expect(cancelled["status"] == "cancelled")
        #expect(Self.step(cancelled, "ask")?["status"] == "failed")
        try await pipeline.control(RunControl(command: .resume, runID: waiting.summary.id))
        _ = try #require(
            try await pipeline.waitForRun(of: "gate") { run in
                run.summary.status == .running
                    && run.steps.contains { $0.stepID == "ask" && $0.attempt == 2 && $0.status == .running }
            })
        try await pipeline.control(RunControl.answer(runID: waiting.summary.id, stepID: "ask", option: "Go", by: nil))
        let done = try #require(
            try await pipeline.waitForRun(of: "gate") { $0.summary.status == .succeeded })
        await pipeline.stop()
        #expect(done.steps.last { $0.stepID == "go" }?.output == ["text": "Go"])
    }

    /// A global artifact outlives the run that appended to it: a later run looks its entries up.
    @Test func aGlobalArtifactKeepsEntriesAcrossRuns() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: exclusions
            \(Self.manual)steps:
              - id: seen
                global_artifact: {name: Excluded hosts, lookup: {host: "{{ trigger.host }}"}}
              - id: add
                when: not steps.seen.output.found
                global_artifact: {name: Excluded hosts, append: {host: "{{ trigger.host }}", by: "{{ run.workflow }}"}}
            """
        ])
        try await pipeline.publish(["host": "a"])
        _ = try await pipeline.finishedRuns(of: "exclusions", 1)
        try await pipeline.publish(["host": "b"])
        _ = try await pipeline.finishedRuns(of: "exclusions", 2)
        try await pipeline.publish(["host": "a"])
        let runs = try await pipeline.finishedRuns(of: "exclusions", 3)
        let entries = try await pipeline.store.globalArtifact(name: "Excluded hosts")
        await pipeline.stop()
        #expect(Self.step(runs[0], "seen")?["output"] == ["found": false, "count": 0, "entries": []])
        #expect(Self.step(runs[1], "add")?["output"]?["count"] == 2)
        #expect(
            Self.step(runs[2], "seen")?["output"]
                == ["found": true, "count": 1, "entries": [["host": "a", "by": "exclusions"]]])
        #expect(Self.step(runs[2], "add")?["status"] == "skipped")
        #expect(entries == [["host": "a", "by": "exclusions"], ["host": "b", "by": "exclusions"]])
    }
    /// An if/else, then a join whose values come from the branch that was taken (the first need written that was not
    /// skipped; none: null), read by the step after it as an imported InsightConnect workflow reads `[join].[Name]`.
    @Test func aJoinTakesItsValuesFromTheBranchThatReachedIt() async throws {
        let pipeline = try TestPipeline(workflows: [
            #"""
            name: contain
            \#(Self.manual)steps:
              - {id: quarantine, plugin: ptest, action: echo, needs: [], when: trigger.high,
                 input: {value: {done: true, host: "{{ trigger.host }}"}}}
              - {id: release, plugin: ptest, action: echo, needs: [], when: not trigger.high,
                 input: {value: {done: false}}}
              - id: outcome
                needs: [quarantine, release]
                join:
                  Quarantine Successful:
                    quarantine: "{{ steps.quarantine.output.value.done }}"
                    release: "{{ steps.release.output.value.done }}"
                  Path:
                    release: released {{ trigger.host }}
                    quarantine: quarantined {{ steps.quarantine.output.value.host }}
                  Host: {quarantine: "{{ steps.quarantine.output.value.host }}"}
              - id: report
                plugin: ptest
                action: echo
                input:
                  text: '{{ steps.outcome.output["Path"] }}: {{ steps.outcome.output["Quarantine Successful"] }}'
            """#
        ])
        try await pipeline.publish(["high": true, "host": "laptop-7"])
        let quarantined = try #require(try await pipeline.finishedRuns(of: "contain").first)
        try await pipeline.publish(["high": false, "host": "server-2"])
        let released = try #require(try await pipeline.finishedRuns(of: "contain", 2).last)
        await pipeline.stop()
        #expect(quarantined["status"] == "succeeded", "\(quarantined)")
        #expect(Self.step(quarantined, "release")?["status"] == "skipped")
        #expect(
            Self.step(quarantined, "outcome")?["output"]
                == ["Quarantine Successful": true, "Path": "quarantined laptop-7", "Host": "laptop-7"])
        #expect(
            Self.step(quarantined, "outcome")?["input"]
                == ["taken": ["Quarantine Successful": "quarantine", "Path": "quarantine", "Host": "quarantine"]])
        #expect(Self.step(quarantined, "report")?["output"] == ["text": "quarantined laptop-7: true"])

        #expect(released["status"] == "succeeded", "\(released)")
        #expect(Self.step(released, "quarantine")?["status"] == "skipped")
        // Host has no template for release: null.
        #expect(
            Self.step(released, "outcome")?["output"]
                == ["Quarantine Successful": false, "Path": "released server-2", "Host": nil])
        #expect(
            Self.step(released, "outcome")?["input"]
                == ["taken": ["Quarantine Successful": "release", "Path": "release", "Host": nil]])
        #expect(Self.step(released, "report")?["output"] == ["text": "released server-2: false"])
    }

    /// A filter that does not pass stops its whole path, written needs or not; a break whose condition does not hold
    /// lets the steps that need it run; a condition whose `matches` cannot be decided in time fails its step.
    @Test func aFilterStopsItsPathAndAnUnheldBreakLetsItGoOn() async throws {
        let pipeline = try TestPipeline(workflows: [
            #"""
            name: paths
            \#(Self.manual)steps:
              - {id: gate, filter: trigger.go}
              - {id: first, plugin: ptest, action: echo, needs: [gate], input: {text: one}}
              - {id: second, plugin: ptest, action: echo, input: {text: two}}
              - {id: third, plugin: ptest, action: echo, needs: [second], input: {text: three}}
              - {id: maybe, needs: [], break: trigger.stop}
              - {id: after_break, plugin: ptest, action: echo, needs: [maybe], input: {text: went on}}
              - id: guarded
                needs: []
                continue_on_failure: true
                when: 'not (trigger.bomb matches "^(a+)+$")'
                plugin: ptest
                action: echo
                input: {text: guarded}
            """#
        ])
        let bomb = String(repeating: "a", count: 40) + "b"
        try await pipeline.publish(["go": false, "stop": false, "bomb": .string(bomb)])
        let run = try #require(try await pipeline.finishedRuns(of: "paths").first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        for id in ["first", "second", "third"] {
            #expect(Self.step(run, id)?["status"] == "skipped", "\(id)")
            #expect(Self.step(run, id)?["error"] == "stopped by filter gate (it did not pass)", "\(id)")
        }
        #expect(Self.step(run, "maybe")?["output"] == ["broke": false])
        #expect(Self.step(run, "after_break")?["output"] == ["text": "went on"])
        // Not skipped (which would let a hostile text choose the branch): failed, saying why.
        #expect(Self.step(run, "guarded")?["status"] == "failed")
        #expect(
            Self.step(run, "guarded")?["error"]?.stringValue?.hasPrefix(
                "condition could not be decided: matches \"^(a+)+$\" took longer than") == true,
            "\(Self.step(run, "guarded") ?? .null)")
    }

    /// A decision without a default fails at its timeout (and its run); a break returns a null output when its
    /// workflow's output reads a step the break kept from running.
    @Test func anUnansweredDecisionWithoutDefaultFailsAndABrokenRunStillSucceeds() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: ask
            \(Self.manual)steps:
              - {id: ask, decision: {question: "Go?", options: [Go], timeout: 300ms}}
              - {id: go, plugin: ptest, action: echo, input: {text: "{{ steps.ask.output.option }}"}}
            """,
            """
            name: leave
            trigger: {plugin: webhook, trigger: webhook, input: {path: leave}}
            steps:
              - {id: stop, break: true}
              - {id: never, plugin: ptest, action: echo, input: {text: never}}
            output: "{{ steps.never.output.text }}"
            """,
        ])
        try await pipeline.publish(["x": 1])
        try await pipeline.publish(["x": 2], workflow: 1)
        let asked = try #require(try await pipeline.finishedRuns(of: "ask").first)
        let left = try #require(try await pipeline.finishedRuns(of: "leave").first)
        await pipeline.stop()
        #expect(asked["status"] == "failed")
        #expect(asked["error"] == "step ask failed: no answer within 300 ms")
        #expect(Self.step(asked, "go") == nil)
        #expect(left["status"] == "succeeded", "\(left)")
        #expect(left["output"] == nil || left["output"] == .null)
        #expect(Self.step(left, "never") == nil)
    }
}
