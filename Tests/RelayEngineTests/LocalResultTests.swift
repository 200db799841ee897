import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

/// A worker beside a dispatcher whose store shares the embedded bus's transactions hands its results to that
/// dispatcher: each result is decided in the transaction that acknowledges its job, and nothing goes through
/// `relay.results`. What the dispatcher cannot decide still goes there, to be dead-lettered as any result is.
@Suite struct LocalResultTests {
    static let chain = """
        name: local
        \(PipelineTests.manual)steps:
          - {id: a, plugin: ptest, action: echo, input: {text: "{{ trigger.json.word }}"}}
          - {id: b, plugin: ptest, action: echo, input: {text: "{{ steps.a.output.text }}!"}}
          - {id: c, plugin: ptest, action: fail, input: {why: nope}, continue_on_failure: true}
        """

    @Test func resultsAreDecidedWithTheAcknowledgementOfTheirJobs() async throws {
        let pipeline = try TestPipeline(workflows: [Self.chain])
        for word in ["x", "y", "z"] { try await pipeline.publish(["json": ["word": .string(word)]]) }
        let runs = try await pipeline.finishedRuns(3)
        let results = try await pipeline.bus.fetch(topic: Topics.results, after: 0, limit: 100)
        let jobs = try await pipeline.committed(group: Worker.group(of: "ptest"), topic: Topics.jobs("ptest"))
        let lastJob = try await pipeline.bus.fetch(topic: Topics.jobs("ptest"), after: 0, limit: 100).last?.offset
        await pipeline.stop()
        #expect(runs.map { $0["status"] } == ["succeeded", "succeeded", "succeeded"])
        #expect(
            Set(runs.compactMap { $0["steps"]?.arrayValue?[1]["output"]?["text"]?.stringValue }) == ["x!", "y!", "z!"])
        #expect(runs.allSatisfy { $0["steps"]?.arrayValue?[2]["status"] == "failed" })
        // Every job acknowledged, and not one result through the topic.
        #expect(lastJob != nil && jobs == lastJob)
        #expect(results.isEmpty, "\(results.map(\.message.topic))")
    }

    @Test func theStoreSharesTransactionsOnlyWithItsOwnBus() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-local-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let bus = try EmbeddedBus(database: database)
        let other = try EmbeddedBus(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("other.sqlite").path))
        let store = try SQLRunStore(bus: bus)
        #expect(store.sharesTransactions(with: bus))
        #expect(!store.sharesTransactions(with: other))
        let outbox = try SQLRunStore(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("store.sqlite").path),
            publishingTo: bus)
        #expect(!outbox.sharesTransactions(with: bus))
    }

    @Test func aResultTheDispatcherCannotDecideGoesToTheResultsTopicAndIsDeadLettered() async throws {
        let pipeline = try TestPipeline(workflows: [Self.chain])
        let dispatcher = Dispatcher(
            bus: pipeline.bus, store: pipeline.store, workflows: pipeline.registry)
        // A result of a job of a run the store does not know, and a message for another topic.
        var event = StepEvent.success(["x": 1], log: "", meta: [:])
        event.meta =
            JobRoute(
                jobID: "nowhere/a/1", runID: "run-nowhere", stepID: "a", attempt: 1, workflow: "local",
                timeoutMilliseconds: 1000
            ).meta
        let unknown = BusMessage(
            topic: Topics.results, key: "run-nowhere", json: event.message(kind: .actionEvent).json)
        let other = BusMessage(topic: "relay.elsewhere", key: "k", value: Array("kept".utf8))
        try await dispatcher.decideLocalResults([unknown, other], acknowledging: [])
        let published = try await pipeline.bus.fetch(topic: Topics.results, after: 0, limit: 10)
        let elsewhere = try await pipeline.bus.fetch(topic: "relay.elsewhere", after: 0, limit: 10)
        var dead: [Delivery] = []
        let deadLettered = await waitFor {
            dead = (try? await pipeline.bus.fetch(topic: Topics.dlq, after: 0, limit: 10)) ?? []
            return !dead.isEmpty
        }
        await pipeline.stop()
        #expect(published.map(\.message.value) == [unknown.value])
        #expect(elsewhere.map(\.message.value) == [Array("kept".utf8)])
        #expect(deadLettered)
        #expect(dead.first?.message.headers["relay.dlq.reason"]?.contains("no run run-nowhere") == true)
    }
}
