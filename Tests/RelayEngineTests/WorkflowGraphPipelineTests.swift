import Foundation
import RelayCore
import RelayPlugins
import RelaySDK
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A plugin whose one action waits until a file exists: a step the test holds open as long as it likes, so that
/// what happens while it runs is decided by the test, not by timing.
enum GatePlugin {
    static let spec = """
        name: gate
        title: Gate
        description: Waits for a file
        version: 1.0.0
        vendor: rapid7
        actions:
          wait:
            input:
              path: {type: string, required: true}
            output:
              opened: {type: boolean, required: true}
        """

    struct Wait: PluginAction {
        static let name = "wait"
        struct Input: Decodable, Sendable { var path: String }
        struct Output: Encodable, Sendable { var opened: Bool }
        func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
            while !FileManager.default.fileExists(atPath: input.path) { try await Task.sleep(for: .milliseconds(20)) }
            return Output(opened: true)
        }
    }

    static func entry() throws -> PluginCatalog.Entry {
        let plugin = try Plugin(specYAML: spec, connection: NoConnection.self, actions: [.init(Wait())])
        return PluginCatalog.Entry(
            spec: plugin.spec, schemas: plugin.schemas, executor: PluginHost(plugin: plugin, masksSecrets: false))
    }
}

/// Workflows as graphs (`needs`) on the embedded bus: parallel branches, joins, skips and failures.
@Suite struct WorkflowGraphPipelineTests {
    static let manual = PipelineTests.manual

    static func statuses(_ run: JSONValue) -> [String: String] {
        var latest: [String: String] = [:]
        for (step, _, status) in steps(run) { latest[step] = status }
        return latest
    }

    @Test func aDiamondRunsBothBranchesAndJoinsTheirOutputs() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: diamond
            \(Self.manual)steps:
              - {id: a, plugin: ptest, action: echo, input: {text: "{{ trigger.word }}"}}
              - {id: b, plugin: ptest, action: echo, needs: [a], input: {text: "b saw {{ steps.a.output.text }}"}}
              - {id: c, plugin: ptest, action: echo, needs: [a], input: {number: 3}}
              - id: d
                plugin: ptest
                action: echo
                needs: [b, c]
                input: {text: "{{ steps.b.output.text }} and c gave {{ steps.c.output.number }}"}
            """
        ])
        try await pipeline.publish(["word": "hi"])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded", "\(run)")
        // Each step ran exactly once; a first, d last.
        let order = steps(run).map(\.0)
        #expect(order.sorted() == ["a", "b", "c", "d"])
        #expect(order.first == "a")
        #expect(order.last == "d")
        #expect(run["steps"]?.arrayValue?.last?["output"]?["text"] == "b saw hi and c gave 3")
    }

    @Test func independentBranchesOverlapInTime() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: parallel
            \(Self.manual)steps:
              - {id: b, plugin: sleep, action: sleep, needs: [], input: {interval: 1}}
              - {id: c, plugin: sleep, action: sleep, needs: [], input: {interval: 1}}
              - {id: d, plugin: ptest, action: echo, needs: [b, c], input: {text: joined}}
            """
        ])
        try await pipeline.publish([:])
        let shown = try #require(try await pipeline.finishedRuns(1).first)
        let id = try #require(shown["id"]?.stringValue)
        let run = try #require(try await pipeline.store.run(id: id))
        await pipeline.stop()
        #expect(run.summary.status == .succeeded)
        let b = try #require(run.steps.first { $0.stepID == "b" })
        let c = try #require(run.steps.first { $0.stepID == "c" })
        let d = try #require(run.steps.first { $0.stepID == "d" })
        let (bStart, bEnd) = (try #require(b.startedAt), try #require(b.finishedAt))
        let (cStart, cEnd) = (try #require(c.startedAt), try #require(c.finishedAt))
        // Each started before the other had finished: they ran at the same time, not one after the other.
        #expect(bStart < cEnd, "b started \(bStart), c finished \(cEnd)")
        #expect(cStart < bEnd, "c started \(cStart), b finished \(bEnd)")
        // The join was scheduled only once both had ended.
        #expect(d.scheduledAt >= max(bEnd, cEnd))
    }

    @Test func ifElseWithAJoinRunsTheJoinOnceWithOneBranchSkipped() async throws {
        let pipeline = try TestPipeline(workflows: [
            """
            name: decide
            \(Self.manual)steps:
              - {id: check, plugin: ptest, action: echo, input: {text: "{{ trigger.mode }}"}}
              - {id: block, plugin: ptest, action: echo, needs: [check], input: {text: blocked},
                 when: 'steps.check.output.text == "loud"'}
              - {id: block_more, plugin: ptest, action: echo, needs: [block], input: {text: more}}
              - {id: ticket, plugin: ptest, action: echo, needs: [check], input: {text: ticketed},
                 when: 'steps.check.output.text != "loud"'}
              - {id: join, plugin: ptest, action: echo, needs: [block_more, ticket],
                 input: {text: "block {{ steps.block.status }}, ticket {{ steps.ticket.status }}"}}
            """
        ])
        try await pipeline.publish(["mode": "quiet"])
        try await pipeline.publish(["mode": "loud"])
        let runs = try await pipeline.finishedRuns(2)
        await pipeline.stop()
        let quiet = try #require(runs.first { $0["trigger_event"]?["mode"] == "quiet" })
        let loud = try #require(runs.first { $0["trigger_event"]?["mode"] == "loud" })
        #expect(quiet["status"] == "succeeded", "\(quiet)")
        #expect(
            Self.statuses(quiet)
                == [
                    "check": "succeeded", "block": "skipped", "block_more": "skipped", "ticket": "succeeded",
                    "join": "succeeded",
                ])
        #expect(steps(quiet).filter { $0.0 == "join" }.count == 1)
        #expect(quiet["steps"]?.arrayValue?.last?["output"]?["text"] == "block skipped, ticket succeeded")
        // A step whose needs were all skipped is skipped, saying why.
        let more = quiet["steps"]?.arrayValue?.first { $0["step"] == "block_more" }
        #expect(more?["error"]?.stringValue?.hasPrefix("no path reached it") == true)
        #expect(loud["status"] == "succeeded", "\(loud)")
        #expect(
            Self.statuses(loud)
                == [
                    "check": "succeeded", "block": "succeeded", "block_more": "succeeded", "ticket": "skipped",
                    "join": "succeeded",
                ])
        #expect(loud["steps"]?.arrayValue?.last?["output"]?["text"] == "block succeeded, ticket skipped")
    }

    @Test func aFailingBranchFailsTheRunAndTheOtherBranchsResultStartsNothing() async throws {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: gate) }
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: halfbroken
                \(Self.manual)steps:
                  - {id: a, plugin: ptest, action: echo, input: {text: go}}
                  - {id: bad, plugin: ptest, action: fail, needs: [a], input: {why: Broken.}}
                  - {id: slow, plugin: gate, action: wait, needs: [a], input: {path: "\(gate.path)"}}
                  - {id: after, plugin: ptest, action: echo, needs: [slow], input: {text: never}}
                  - {id: join, plugin: ptest, action: echo, needs: [bad, after], input: {text: never}}
                """
            ], catalog: ["gate": try GatePlugin.entry()])
        try await pipeline.publish([:])
        let failed = try #require(try await pipeline.finishedRuns(1).first)
        #expect(failed["status"] == "failed")
        #expect(failed["error"]?.stringValue?.hasPrefix("step bad failed") == true)
        let id = try #require(failed["id"]?.stringValue)
        // The run failed while slow was still running; now let slow finish.
        #expect(Self.statuses(failed)["slow"] == "running")
        FileManager.default.createFile(atPath: gate.path, contents: Data())
        let recorded = await waitFor {
            (try? await pipeline.store.run(id: id))?.steps.contains { $0.stepID == "slow" && $0.status == .succeeded }
                == true
        }
        #expect(recorded, "slow's result is recorded")
        // Recorded in the transaction that would have started `after`: nothing more is decided for this run.
        let run = try #require(try await pipeline.store.run(id: id))
        let notices = try await pipeline.bus.fetch(topic: Topics.runs, after: 0, limit: 100)
            .compactMap { try? RunNotice(bytes: $0.message.value) }.filter { $0.runID == id }
        await pipeline.stop()
        #expect(run.summary.status == .failed)
        #expect(Set(run.steps.map(\.stepID)) == ["a", "bad", "slow"], "after and join never start")
        #expect(notices == [RunNotice(runID: id, workflow: "halfbroken", status: .failed)], "one notice")
    }

    @Test func emptyNeedsStartStepsTogetherAndDefaultNeedsKeepALine() async throws {
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: gate) }
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: starts
                \(Self.manual)steps:
                  - {id: held, plugin: gate, action: wait, input: {path: "\(gate.path)"}}
                  - {id: free, plugin: ptest, action: echo, needs: [], input: {text: free}}
                  - {id: next, plugin: ptest, action: echo, input: {text: "{{ steps.free.output.text }} then next"}}
                """
            ], catalog: ["gate": try GatePlugin.entry()])
        try await pipeline.publish([:])
        // free and next (which needs free, the step listed before it) finish while held is still waiting.
        let line = await waitFor {
            guard let run = try? await pipeline.store.runs(limit: 1).first,
                let detail = try? await pipeline.store.run(id: run.id)
            else { return false }
            return detail.steps.contains { $0.stepID == "next" && $0.status == .succeeded }
        }
        #expect(line, "free and next ran without waiting for held")
        let before = try #require(try await pipeline.store.runs(limit: 1).first)
        #expect(before.status == .running, "held keeps the run going")
        FileManager.default.createFile(atPath: gate.path, contents: Data())
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded")
        #expect(Self.statuses(run) == ["held": "succeeded", "free": "succeeded", "next": "succeeded"])
        #expect(run["steps"]?.arrayValue?.first { $0["step"] == "next" }?["output"]?["text"] == "free then next")
    }

    @Test func aSkippedStepWithoutNeedsDoesNotSkipTheStepAfterIt() async throws {
        // A workflow written before `needs`: a step after a skipped one runs, as it always did.
        let pipeline = try TestPipeline(workflows: [
            """
            name: linear
            \(Self.manual)steps:
              - {id: first, plugin: ptest, action: echo, input: {text: one}}
              - {id: maybe, plugin: ptest, action: echo, input: {text: two}, when: 'trigger.go == true'}
              - {id: last, plugin: ptest, action: echo, input: {text: "maybe {{ steps.maybe.status }}"}}
            """
        ])
        try await pipeline.publish(["go": false])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        await pipeline.stop()
        #expect(run["status"] == "succeeded")
        #expect(steps(run).map { "\($0.0):\($0.2)" } == ["first:succeeded", "maybe:skipped", "last:succeeded"])
        #expect(run["steps"]?.arrayValue?.last?["output"]?["text"] == "maybe skipped")
    }
}
