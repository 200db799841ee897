import Foundation
import RelayCore
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// Dead letters over the embedded bus: what the pipeline dead-letters is kept in the run store by the keeper, and
/// the desk redrives it to its source topic or discards it.
@Suite struct DeadLetterPipelineTests {
    static func workflow(_ name: String) -> String {
        """
        name: \(name)
        trigger: {plugin: webhook, trigger: webhook, input: {path: \(name)}}
        steps:
          - {id: a, plugin: ptest, action: echo, input: {number: "{{ trigger.n }}"}}
        """
    }

    /// Waits until the store keeps dead letters for which `condition` holds; returns them.
    static func kept(
        _ pipeline: TestPipeline, _ condition: @escaping ([DeadLetterRecord]) -> Bool
    ) async -> [DeadLetterRecord] {
        var letters: [DeadLetterRecord] = []
        let met = await waitFor {
            letters = (try? await pipeline.store.deadLetters(limit: 100, after: nil)) ?? []
            return condition(letters)
        }
        if !met { Issue.record("the dead letters kept never met the condition: \(letters.map(\.reason))") }
        return letters
    }

    @Test func deadLettersAreKeptRedrivenToTheirSourceAndDiscarded() async throws {
        let pipeline = try TestPipeline(workflows: [Self.workflow("here"), Self.workflow("later")])
        let later = try #require(pipeline.workflows[1].trigger?.instanceID)
        // "later" is not bound yet: its event is looked at again, then dead-lettered.
        pipeline.registry.replace(with: [pipeline.workflows[0]])
        let poison = Array("not json".utf8)
        try await pipeline.bus.publish([
            BusMessage(topic: Topics.events, key: "poison", value: poison, headers: ["trace": "p"]),
            BusMessage(
                topic: Topics.events, key: later,
                json: TriggerEvent(id: "ev-later", instance: later, output: ["n": 7]).json),
            // On relay.dlq without the relay.dlq.* headers: kept, not understood.
            BusMessage(topic: Topics.dlq, key: "odd", value: Array("odd".utf8)),
        ])
        let letters = await Self.kept(pipeline) { $0.count == 3 }
        let notAnEvent = try #require(letters.first { $0.reason.hasPrefix("not an event") })
        #expect(notAnEvent.sourceTopic == Topics.events)
        #expect(notAnEvent.key == "poison")
        #expect(notAnEvent.value == poison)
        #expect(notAnEvent.headers == ["trace": "p"])
        let unbound = try #require(letters.first { $0.reason == "no workflow is bound to trigger instance \(later)" })
        #expect(unbound.headers["relay.unbound.tries"] == "3")
        let odd = try #require(letters.first { $0.reason.hasPrefix("unreadable dead letter: ") })
        #expect(odd.sourceTopic == "")
        #expect(odd.key == "odd")

        let desk = DeadLetterDesk(store: pipeline.store)
        let eventsBefore = try await pipeline.bus.fetch(topic: Topics.events, after: 0, limit: 1000).last?.offset ?? 0

        // The workflow is there now: redriven, the event starts its run. The message goes back as it was, without
        // the dead-letter headers and the count of looks.
        pipeline.registry.replace(with: pipeline.workflows)
        let redriven = try #require(try await desk.redrive(id: unbound.id))
        #expect(redriven == unbound)
        #expect(try await pipeline.store.deadLetter(id: unbound.id) == nil)
        let republished = try await pipeline.bus.fetch(topic: Topics.events, after: eventsBefore, limit: 10)
        #expect(republished.map(\.message) == [BusMessage(topic: Topics.events, key: later, value: unbound.value)])
        let runs = try await pipeline.finishedRuns(of: "later")
        #expect(runs.first?["status"] == "succeeded")

        // Not a readable dead letter: it cannot go back (and stays), but it can be discarded.
        let error = await #expect(throws: RelayError.self) { try await desk.redrive(id: odd.id) }
        #expect(error?.message.contains("dead letter \(odd.id): it has no source topic to go back to") == true)
        #expect(try await pipeline.store.deadLetter(id: odd.id) == odd)
        #expect(try await desk.discard(id: odd.id))
        #expect(!(try await desk.discard(id: odd.id)))
        #expect(try await desk.redrive(id: odd.id) == nil)

        // Poison redriven is poison again: dead-lettered anew, kept as a new letter.
        #expect(try await desk.redrive(id: notAnEvent.id) != nil)
        let again = await Self.kept(pipeline) { letters in letters.contains { $0.id > notAnEvent.id } }
        #expect(again.map(\.key) == ["poison"])
        #expect(again.first?.reason.hasPrefix("not an event") == true)
        #expect(try await desk.discard(id: try #require(again.first).id))
        #expect(try await desk.list(limit: 10, after: nil).isEmpty)
        await pipeline.stop()
    }
}

/// Replaying the events a workflow ran on: new events (new ids), the same trigger output, new runs.
@Suite struct EventReplayTests {
    @Test func aRangeOfEventsIsPublishedAgainAsNewEvents() async throws {
        let pipeline = try TestPipeline(workflows: [DeadLetterPipelineTests.workflow("replayed")])
        let instance = try #require(pipeline.workflows[0].trigger?.instanceID)
        let since = RunTime.now()
        let originals = [
            try await pipeline.publish(["n": 1], eventID: "original-1"),
            try await pipeline.publish(["n": 2], eventID: "original-2"),
        ]
        _ = try await pipeline.finishedRuns(of: "replayed", 2)
        let until = RunTime.now()
        let replay = EventReplay(store: pipeline.store, transport: pipeline.bus)
        let ids = try await replay.replay(instance: instance, since: since, until: until)
        #expect(ids.count == 2)
        #expect(Set(ids).isDisjoint(with: originals))

        let runs = try await pipeline.finishedRuns(of: "replayed", 4)
        #expect(runs.count == 4)
        #expect(runs.allSatisfy { $0["status"] == "succeeded" })
        let outputs = runs.compactMap { $0["trigger_event"]?["n"]?.intValue }.sorted()
        #expect(outputs == [1, 1, 2, 2])
        // The store has the new events, with the old outputs, oldest first.
        let kept = try await pipeline.store.events(instance: instance, since: since, until: RunTime.now(), limit: 10)
        #expect(kept.map(\.id) == originals + ids)
        #expect(kept.map(\.output) == [["n": 1], ["n": 2], ["n": 1], ["n": 2]])

        // The range is checked.
        let inverted = await #expect(throws: RelayError.self) {
            try await replay.replay(instance: instance, since: until, until: since)
        }
        #expect(inverted?.message.contains("expected a time range whose start is before its end") == true)
        #expect(try await replay.replay(instance: "nobody", since: since, until: RunTime.now()).isEmpty)
        await pipeline.stop()
    }
}
