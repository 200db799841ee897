import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySDK
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

/// A worker and a trigger host beside a dispatcher whose store shares the embedded bus's transactions hand it what
/// they would publish: each result is decided in the transaction that acknowledges its job, each event in the
/// transaction that accepts it, and nothing goes through `relay.results` or `relay.events`. What the dispatcher
/// cannot decide still goes there, to be dead-lettered as anything is.
@Suite struct LocalDecisionTests {
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

    @Test func aWebhooksEventStartsItsRunInTheTransactionThatAcceptsIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-local-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(50))
        let store = try SQLRunStore(bus: bus)
        var plugins = try NativePlugins.all()
        plugins["ptest"] = try PipelineTestPlugin.plugin()
        let workflow = try WorkflowDecoder.decode(yaml: Self.chain, file: "local.yaml")
        let services = PipelineAssembly(workflows: [workflow], catalog: PluginCatalog(native: plugins), transport: bus)
            .services(dispatcher: store, worker: .init(), triggers: try SQLTriggerStateStore(database: database))
        let triggers = try #require(services.triggers)
        let task = Task { try? await services.run() }
        var inbox: WebhookInbox?
        #expect(
            await waitFor {
                inbox = triggers.webhooks.inbox(for: "test")
                return inbox != nil
            })
        for word in ["p", "q"] {
            let accepted = await inbox?.deliver(
                method: "POST", path: "/webhooks/test", headers: ["content-type": "application/json"], query: [:],
                body: "{\"word\": \"\(word)\"}")
            #expect(accepted == true)
            // Accepted means started: the run exists once the request is answered.
            #expect(try await store.runs(limit: 10).count == (word == "p" ? 1 : 2))
        }
        var runs: [RunSummary] = []
        #expect(
            await waitFor {
                runs = (try? await store.runs(limit: 10)) ?? []
                return runs.count == 2 && runs.allSatisfy { $0.status == .succeeded }
            })
        let events = try await bus.fetch(topic: Topics.events, after: 0, limit: 10)
        let results = try await bus.fetch(topic: Topics.results, after: 0, limit: 10)
        task.cancel()
        await task.value
        #expect(events.isEmpty && results.isEmpty)
    }

    @Test func anEventNoWorkflowIsBoundToIsLookedAtAgainThenDeadLettered() async throws {
        let pipeline = try TestPipeline(workflows: [Self.chain])
        let dispatcher = Dispatcher(
            bus: pipeline.bus, store: pipeline.store, workflows: pipeline.registry,
            configuration: .init(unboundEventDelay: .milliseconds(200)))
        try await dispatcher.decideLocally(
            [TriggerEvent(id: "e-nobody", instance: "nobody").message], acknowledging: [])
        var dead: [Delivery] = []
        let deadLettered = await waitFor {
            dead = (try? await pipeline.bus.fetch(topic: Topics.dlq, after: 0, limit: 10)) ?? []
            return !dead.isEmpty
        }
        await pipeline.stop()
        #expect(deadLettered)
        #expect(dead.first?.message.headers["relay.dlq.reason"] == "no workflow is bound to trigger instance nobody")
        #expect(dead.first?.message.headers["relay.unbound.tries"] == "3")
    }

    @Test func aMessageTheDispatcherCannotDecideGoesToItsTopicAndIsDeadLettered() async throws {
        let pipeline = try TestPipeline(workflows: [Self.chain])
        let dispatcher = Dispatcher(
            bus: pipeline.bus, store: pipeline.store, workflows: pipeline.registry)
        // A result of a job of a run the store does not know, an event that is not one, a message for another topic.
        var event = StepEvent.success(["x": 1], log: "", meta: [:])
        event.meta =
            JobRoute(
                jobID: "nowhere/a/1", runID: "run-nowhere", stepID: "a", attempt: 1, workflow: "local",
                timeoutMilliseconds: 1000
            ).meta
        let unknown = BusMessage(
            topic: Topics.results, key: "run-nowhere", json: event.message(kind: .actionEvent).json)
        let notAnEvent = BusMessage(topic: Topics.events, key: "x", value: Array("not json".utf8))
        let other = BusMessage(topic: "relay.elsewhere", key: "k", value: Array("kept".utf8))
        try await dispatcher.decideLocally([unknown, notAnEvent, other], acknowledging: [])
        let published = try await pipeline.bus.fetch(topic: Topics.results, after: 0, limit: 10)
        let events = try await pipeline.bus.fetch(topic: Topics.events, after: 0, limit: 10)
        let elsewhere = try await pipeline.bus.fetch(topic: "relay.elsewhere", after: 0, limit: 10)
        var dead: [Delivery] = []
        let deadLettered = await waitFor {
            dead = (try? await pipeline.bus.fetch(topic: Topics.dlq, after: 0, limit: 10)) ?? []
            return dead.count >= 2
        }
        await pipeline.stop()
        #expect(published.map(\.message.value) == [unknown.value])
        #expect(events.map(\.message.value) == [notAnEvent.value])
        #expect(elsewhere.map(\.message.value) == [Array("kept".utf8)])
        #expect(deadLettered)
        let reasons = dead.compactMap { $0.message.headers["relay.dlq.reason"] }
        #expect(reasons.contains { $0.contains("no run run-nowhere") })
        #expect(reasons.contains { $0.hasPrefix("not an event") })
    }

    @Test func aResultHandedOverAsValuesThatCannotBeDecidedGoesOutAsItsMessage() async throws {
        let pipeline = try TestPipeline(workflows: [Self.chain])
        let dispatcher = Dispatcher(bus: pipeline.bus, store: pipeline.store, workflows: pipeline.registry)
        var route = JobRoute(
            jobID: "nowhere/a/1", runID: "run-nowhere", stepID: "a", attempt: 1, workflow: "local",
            timeoutMilliseconds: 1000)
        route.startedAt = 1_700_000_000
        route.finishedAt = 1_700_000_001
        let event = StepEvent.success(["x": 1], log: "", meta: route.meta)
        // Two, so that the first is decided ahead as well (`decideAheadMinimum`).
        let handed: [SinkMessage] = [.result(event, route, key: "run-nowhere"), .result(event, route, key: "again")]
        try await dispatcher.decideLocally(handed, acknowledging: [])
        let published = try await pipeline.bus.fetch(topic: Topics.results, after: 0, limit: 10)
        var dead: [Delivery] = []
        let deadLettered = await waitFor {
            dead = (try? await pipeline.bus.fetch(topic: Topics.dlq, after: 0, limit: 10)) ?? []
            return dead.count >= 2
        }
        await pipeline.stop()
        #expect(published.map(\.message.value) == handed.map(\.busMessage.value))
        #expect(published.map(\.message.key) == ["run-nowhere", "again"])
        #expect(deadLettered)
        #expect(dead.allSatisfy { $0.message.headers["relay.dlq.reason"]?.contains("no run run-nowhere") == true })
    }
}
