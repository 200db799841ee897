import Foundation
import RelayCore
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// Sub-workflows, a workflow's output and timeout on the embedded bus.
@Suite struct SubWorkflowPipelineTests {
    static let manual = PipelineTests.manual

    /// A workflow without a trigger that doubles `trigger.x` by echoing it twice, and returns a mapping.
    static let double = """
        name: double
        steps:
          - {id: a, plugin: ptest, action: echo, input: {number: "{{ trigger.x }}"}}
          - {id: b, plugin: ptest, action: echo, input: {text: "got {{ steps.a.output.number }}"}}
        output:
          x: "{{ steps.a.output.number }}"
          said: "{{ steps.b.output.text }}"
        """

    @Test func aStepRunsAChildRunAndGetsItsOutput() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: parent
            \(Self.manual)steps:
              - {id: sub, workflow: double, input: {x: "{{ trigger.n }}"}}
              - {id: after, plugin: ptest, action: echo, input: {text: "child said {{ steps.sub.output.said }}"}}
            """,
            Self.double,
        ])
        try await pipeline.publish(["n": 21])
        let parent = try #require(try await pipeline.finishedRuns(of: "parent").first)
        let child = try #require(try await pipeline.finishedRuns(of: "double").first)
        await pipeline.stop()
        #expect(parent["status"] == "succeeded", "\(parent)")
        #expect(child["status"] == "succeeded", "\(child)")
        // The child's trigger event is the step's input; its output is the workflow's output mapping.
        #expect(child["trigger_event"] == ["x": 21])
        #expect(child["output"] == ["x": 21, "said": "got 21"])
        #expect(child["parent_run"] == parent["id"])
        #expect(child["parent_step"] == "sub")
        let sub = try #require(parent["steps"]?.arrayValue?.first { $0["step"] == "sub" })
        #expect(sub["output"] == ["x": 21, "said": "got 21"])
        #expect(sub["child_run"] == child["id"])
        #expect(parent["children"]?.arrayValue?.first?["id"] == child["id"])
        #expect(parent["steps"]?.arrayValue?.last?["output"]?["text"] == "child said got 21")
        // Without output:, a run returns its last step's output.
        #expect(parent["output"] == ["text": "child said got 21"])
    }

    @Test func aForEachRunsOneChildPerItemInOrder() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: loop
            \(Self.manual)steps:
              - {id: each, workflow: double, for_each: "{{ trigger.xs }}", concurrency: 2, input: {x: "{{ item }}"}}
            """,
            Self.double,
        ])
        try await pipeline.publish(["xs": [3, 1, 4, 1, 5]])
        let run = try #require(try await pipeline.finishedRuns(of: "loop").first)
        let children = try await pipeline.finishedRuns(of: "double", 5)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        let output = run["steps"]?.arrayValue?.first?["output"]?.arrayValue?.map { $0["x"] }
        #expect(output == [3, 1, 4, 1, 5])
        #expect(children.count == 5)
        #expect(Set(children.compactMap { $0["parent_run"]?.stringValue }) == [run["id"]?.stringValue ?? ""])
        let items = run["steps"]?.arrayValue?.first?["items"]?.arrayValue ?? []
        #expect(
            Set(items.compactMap { $0["child_run"]?.stringValue }) == Set(children.compactMap { $0["id"]?.stringValue })
        )
    }

    @Test func aFailedChildFailsItsStepUnlessItMayContinue() async throws {
        let failing = """
            name: breaks
            steps:
              - {id: boom, plugin: ptest, action: fail, input: {why: "item {{ trigger.x }} broke"},
                 when: 'trigger.x == 2'}
              - {id: ok, plugin: ptest, action: echo, needs: [], input: {number: "{{ trigger.x }}"}}
            output: {x: "{{ steps.ok.output.number }}"}
            """
        let pipeline = try TestPipeline(workflows: [
            """
            name: strict
            \(Self.manual)steps:
              - {id: each, workflow: breaks, for_each: "{{ trigger.xs }}", input: {x: "{{ item }}"}}
            """,
            """
            name: lenient
            trigger: {plugin: webhook, trigger: webhook, input: {path: lenient}}
            steps:
              - {id: each, workflow: breaks, for_each: "{{ trigger.xs }}", continue_on_failure: true,
                 input: {x: "{{ item }}"}}
            """,
            failing,
        ])
        try await pipeline.publish(["xs": [1, 2, 3]], workflow: 0)
        try await pipeline.publish(["xs": [1, 2, 3]], workflow: 1)
        let strict = try #require(try await pipeline.finishedRuns(of: "strict").first)
        let lenient = try #require(try await pipeline.finishedRuns(of: "lenient").first)
        await pipeline.stop()
        #expect(strict["status"] == "failed")
        #expect(strict["error"]?.stringValue?.contains("item 2 broke") == true, "\(strict)")
        #expect(lenient["status"] == "succeeded", "\(lenient)")
        let output = lenient["steps"]?.arrayValue?.first?["output"]
        #expect(output == [["x": 1], .null, ["x": 3]])
        let item = lenient["steps"]?.arrayValue?.first?["items"]?.arrayValue?[1]
        #expect(item?["error"]?.stringValue?.contains("sub-workflow breaks run") == true, "\(String(describing: item))")
    }

    @Test func aRunPastItsTimeoutFailsAndStartsNothingNew() async throws {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: gate) }
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: slow
                timeout: 300ms
                \(Self.manual)steps:
                  - {id: held, plugin: gate, action: wait, input: {path: "\(gate.path)"}}
                  - {id: after, plugin: ptest, action: echo, input: {text: never}}
                """
            ], catalog: ["gate": try GatePlugin.entry()])
        try await pipeline.publish([:])
        let run = try #require(try await pipeline.finishedRuns(of: "slow").first)
        #expect(run["status"] == "failed")
        #expect(run["error"] == "run timed out after 300 ms")
        // The held step's result, when it comes, is recorded and starts nothing.
        FileManager.default.createFile(atPath: gate.path, contents: Data())
        let id = try #require(run["id"]?.stringValue)
        #expect(
            await waitFor {
                (try? await pipeline.store.run(id: id))?.steps.first { $0.stepID == "held" }?.status == .succeeded
            })
        let after = try await pipeline.store.run(id: id)
        await pipeline.stop()
        #expect(after?.steps.map(\.stepID) == ["held"])
        #expect(after?.summary.status == .failed)
    }
}

/// Cancel and resume, and runs that outlive their workflow's file, on the embedded bus.
@Suite struct RunControlPipelineTests {
    static let manual = PipelineTests.manual

    @Test func cancellingARunCancelsItsChildAndStartsNothingNew() async throws {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: gate) }
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: parent
                \(Self.manual)steps:
                  - {id: sub, workflow: held}
                  - {id: after, plugin: ptest, action: echo, input: {text: never}}
                """,
                """
                name: held
                steps:
                  - {id: wait, plugin: gate, action: wait, input: {path: "\(gate.path)"}}
                  - {id: later, plugin: ptest, action: echo, input: {text: never}}
                """,
            ], catalog: ["gate": try GatePlugin.entry()])
        try await pipeline.publish([:])
        // Once the child's held step runs, the parent is cancelled.
        let child = try #require(
            try await pipeline.waitForRun(of: "held") { $0.steps.contains { $0.stepID == "wait" } })
        let parentID = try #require(child.summary.parentRunID)
        try await pipeline.control(RunControl(command: .cancel, runID: parentID, reason: "an operator said so"))
        let parent = try #require(try await pipeline.finishedRuns(of: "parent").first)
        let cancelledChild = try #require(try await pipeline.finishedRuns(of: "held").first)
        #expect(parent["status"] == "cancelled")
        #expect(parent["error"] == "cancelled: an operator said so")
        #expect(cancelledChild["status"] == "cancelled")
        #expect(cancelledChild["error"]?.stringValue?.contains("its parent run \(parentID) cancelled") == true)
        // The job in flight finishes: its result is recorded, and nothing new starts in either run.
        FileManager.default.createFile(atPath: gate.path, contents: Data())
        #expect(
            await waitFor {
                (try? await pipeline.store.run(id: child.summary.id))?.steps.first?.status == .succeeded
            })
        // The child's end reached the parent's step as its result (a failure: the child was cancelled).
        #expect(
            await waitFor {
                (try? await pipeline.store.run(id: parentID))?.steps.first?.status == .failed
            })
        let childAfter = try await pipeline.store.run(id: child.summary.id)
        let parentAfter = try await pipeline.store.run(id: parentID)
        let counts = try await pipeline.store.runCounts()
        await pipeline.stop()
        #expect(childAfter?.steps.map(\.stepID) == ["wait"])
        #expect(parentAfter?.steps.map(\.stepID) == ["sub"])
        #expect(parentAfter?.summary.status == .cancelled)
        #expect(counts[.cancelled] == 2)
        #expect(pipeline.metrics.value(of: PipelineMetrics.Name.runsFinished, labels: ["status": "cancelled"]) == 2)
    }

    @Test func aResumeRightAfterACancelStartsANewChildAndTheOldChildsEndChangesNothing() async throws {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: gate) }
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: parent
                \(Self.manual)steps:
                  - {id: sub, workflow: held}
                  - {id: after, plugin: ptest, action: echo, input: {text: "child gave {{ steps.sub.output.opened }}"}}
                """,
                """
                name: held
                steps:
                  - {id: wait, plugin: gate, action: wait, input: {path: "\(gate.path)"}}
                """,
            ], catalog: ["gate": try GatePlugin.entry()])
        try await pipeline.publish([:])
        let child = try #require(
            try await pipeline.waitForRun(of: "held") { $0.steps.contains { $0.stepID == "wait" } })
        let parentID = try #require(child.summary.parentRunID)
        // Back to back: the resume is handled before the cancelled child's result reaches the parent's step.
        try await pipeline.control(RunControl(command: .cancel, runID: parentID))
        try await pipeline.control(RunControl(command: .resume, runID: parentID))
        // A sub-workflow's run is resumed through its parent only.
        try await pipeline.control(RunControl(command: .resume, runID: child.summary.id))
        #expect(
            await waitFor {
                (try? await pipeline.store.run(id: parentID))?.steps.contains { $0.stepID == "sub" && $0.attempt == 2 }
                    == true
            })
        FileManager.default.createFile(atPath: gate.path, contents: Data())
        let done = try #require(try await pipeline.waitForRun(of: "parent") { $0.summary.status == .succeeded })
        let first = try await pipeline.store.run(id: child.summary.id)
        await pipeline.stop()
        #expect(
            done.steps.map { "\($0.stepID)#\($0.attempt):\($0.status.rawValue)" } == [
                "sub#1:failed", "sub#2:succeeded", "after#1:succeeded",
            ])
        #expect(done.steps.first?.error == "not finished: the run had ended")
        #expect(done.steps.last?.output?["text"] == "child gave true")
        #expect(done.children.count == 2)
        #expect(first?.summary.status == .cancelled, "the first child stays cancelled: it is not resumed alone")
    }

    @Test func resumingAFailedRunRunsOnlyWhatFailedAndWhatFollows() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: resumable
            \(Self.manual)steps:
              - {id: first, plugin: ptest, action: echo, input: {text: once}}
              - {id: flaky, plugin: ptest, action: flaky, input: {succeed_on: 2}}
              - id: each
                plugin: ptest
                action: flaky
                for_each: "{{ trigger.succeed_on }}"
                input: {succeed_on: "{{ item }}"}
              - {id: last, plugin: ptest, action: echo, input: {text: "flaky took {{ steps.flaky.output.attempt }}"}}
            """
        ])
        try await pipeline.publish(["succeed_on": [1, 2, 1]])
        let failed = try #require(try await pipeline.finishedRuns(of: "resumable").first)
        #expect(failed["status"] == "failed")
        #expect(steps(failed).map(\.0) == ["first", "flaky"])
        let id = try #require(failed["id"]?.stringValue)

        // First resume: flaky's second attempt succeeds; item 1 of each fails on its first attempt.
        try await pipeline.control(RunControl(command: .resume, runID: id))
        let second = try #require(
            try await pipeline.waitForRun(of: "resumable") { $0.summary.status == .failed && $0.steps.count > 2 })
        #expect(
            second.steps.map { "\($0.stepID)#\($0.attempt):\($0.status.rawValue)" } == [
                "first#1:succeeded", "flaky#1:failed", "flaky#2:succeeded", "each#1:failed",
            ])
        // Second resume: only item 1 runs again; the step and the run succeed.
        try await pipeline.control(RunControl(command: .resume, runID: id))
        let done = try #require(try await pipeline.waitForRun(of: "resumable") { $0.summary.status == .succeeded })
        await pipeline.stop()
        #expect(done.steps.filter { $0.stepID == "first" }.count == 1, "a succeeded step never runs again")
        #expect(done.steps.last?.output?["text"] == "flaky took 2")
        let items = done.items.map { "\($0.index)#\($0.attempt):\($0.status.rawValue)" }
        #expect(items == ["0#1:succeeded", "1#1:failed", "1#2:succeeded", "2#1:succeeded"])
        #expect(done.steps.first { $0.stepID == "each" }?.output == [["attempt": 1], ["attempt": 2], ["attempt": 1]])
    }

    @Test func anEventThatComesBeforeItsWorkflowIsLoadedStartsARunOnceItIs() async throws {
        let pipeline = try TestPipeline(workflows: [
            "name: first\n\(Self.manual)steps:\n  - {id: a, plugin: ptest, action: echo, input: {text: x}}\n"
        ])
        let later = try WorkflowDecoder.decode(
            yaml: """
                name: later
                trigger: {plugin: webhook, trigger: webhook, input: {path: later}}
                steps:
                  - {id: a, plugin: ptest, action: echo, input: {text: "{{ trigger.word }}"}}
                """, file: "later.yaml")
        // As on Kafka, where the trigger host may reload a new workflow before the dispatcher does.
        try await pipeline.bus.publish([
            TriggerEvent(id: "early", instance: later.trigger?.instanceID ?? "", output: ["word": "hi"]).message
        ])
        #expect(
            await waitFor {
                (try? await pipeline.bus.database.read { db in
                    try db.query("SELECT COUNT(*) FROM scheduled_jobs WHERE job_id LIKE 'event:early:%'")
                        .first?.first?.int
                }) ?? 0 >= 1
            }, "the event waits for its workflow")
        pipeline.registry.replace(with: pipeline.workflows + [later])
        let run = try #require(try await pipeline.finishedRuns(of: "later").first)
        let dead = try await pipeline.bus.fetch(topic: Topics.dlq, after: 0, limit: 10)
        await pipeline.stop()
        #expect(run["status"] == "succeeded")
        #expect(run["steps"]?.arrayValue?.first?["output"]?["text"] == "hi")
        #expect(dead.isEmpty)
    }

    @Test func aRunOutlivesAnEditAndADeletionOfItsWorkflow() async throws {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: gate) }
        let original = """
            name: edited
            \(Self.manual)steps:
              - {id: held, plugin: gate, action: wait, input: {path: "\(gate.path)"}}
              - {id: old_step, plugin: ptest, action: echo, input: {text: "the version it started with"}}
            """
        let pipeline = try TestPipeline(workflows: [original], catalog: ["gate": try GatePlugin.entry()])
        try await pipeline.publish([:])
        let running = try #require(
            try await pipeline.waitForRun(of: "edited") { $0.steps.contains { $0.stepID == "held" } })
        // The file changes (the step after the held one is renamed), then the workflow is deleted.
        let edited = try WorkflowDecoder.decode(
            yaml: original.replacingOccurrences(of: "old_step", with: "new_step"), file: "edited.yaml")
        pipeline.registry.replace(with: [edited])
        pipeline.registry.replace(with: [])
        FileManager.default.createFile(atPath: gate.path, contents: Data())
        let run = try #require(try await pipeline.finishedRuns(of: "edited").first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        #expect(steps(run).map(\.0) == ["held", "old_step"])
        #expect(run["version"] == .string(running.summary.version ?? "?"))
        #expect(running.summary.version == WorkflowVersion(pipeline.workflows[0]).hash)
    }
}
