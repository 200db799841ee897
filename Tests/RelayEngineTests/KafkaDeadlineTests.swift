import Foundation
import RelayCore
import RelayKafka
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A job deadline on the test broker: the dispatcher on `KafkaTransport` in this process, its run store in SQLite
/// with the outbox (as `relay dispatcher` runs it), and no worker for the step's plugin.
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaDeadlineTests {
    @Test(.timeLimit(.minutes(4))) func aJobNoWorkerTakesFailsByItsDeadline() async throws {
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: kdeadline
                trigger: {plugin: webhook, trigger: webhook, input: {path: kdeadline}}
                steps:
                  - {id: encode, plugin: base64, action: encode, input: {content: hi}, timeout: 500ms}
                """, file: "kdeadline.yaml")
        let metrics = PipelineMetrics()
        let (finished, run) = try await KafkaRunHarness.run(workflow, event: [:], prefix: "deadline") {
            assembly, store in
            var assembly = PipelineAssembly(
                workflows: assembly.workflows, catalog: assembly.catalog, transport: assembly.transport,
                metrics: metrics)
            assembly.dispatcherConfiguration.deadlineGrace = .seconds(1)
            // A dispatcher and no worker: nobody consumes relay.jobs.base64.
            return assembly.services(dispatcher: store)
        }

        #expect(finished, "the run finished")
        let detail = try #require(run)
        let lost = "no result within 500 ms + 1 s grace: no worker took the job, or it was lost (relay.jobs.base64)"
        #expect(detail.summary.status == .failed)
        #expect(detail.summary.error == "step encode failed: \(lost)")
        #expect(detail.steps.map(\.status) == [.failed])
        #expect(detail.steps.first?.error == lost)
        #expect(metrics.value(of: PipelineMetrics.Name.stepsFailedByDeadline) == 1)
    }
}
