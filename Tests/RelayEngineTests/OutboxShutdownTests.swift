import Foundation
import RelayCore
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A dispatcher whose store publishes through an outbox (as on Kafka) and is stopped by cancellation (how SIGTERM
/// reaches it): what it decided is published, and its outbox left empty, so that the next start publishes nothing
/// again.
@Suite struct OutboxShutdownTests {
    @Test func aCancelledDispatcherLeavesNothingInItsOutbox() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-outbox-stop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = try EmbeddedBus(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("bus.sqlite").path),
            pollInterval: .milliseconds(20))
        let file = try SQLiteDatabase(path: directory.appendingPathComponent("store.sqlite").path)
        let store = try SQLRunStore(database: file, publishingTo: bus)
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: outbox
                \(PipelineTests.manual)steps:
                  - {id: a, plugin: ptest, action: echo, input: {text: "{{ trigger.word }}"}}
                """, file: "outbox.yaml")
        let dispatcher = Dispatcher(bus: bus, store: store, workflows: WorkflowRegistry([workflow]))
        let instance = try #require(workflow.trigger?.instanceID)
        let task = Task { try await dispatcher.run() }
        try await bus.publish([TriggerEvent(id: "e-1", instance: instance, output: ["word": "hi"]).message])
        // The run's first job is published.
        #expect(
            await waitFor {
                !((try? await bus.fetch(topic: Topics.jobs("ptest"), after: 0, limit: 10)) ?? []).isEmpty
            })
        task.cancel()
        _ = try? await task.value
        let left = try await file.read { db in try db.query("SELECT COUNT(*) FROM relay_outbox").first?[0].int ?? -1 }
        #expect(left == 0)
        #expect(try await bus.fetch(topic: Topics.jobs("ptest"), after: 0, limit: 10).count == 1)
    }
}
