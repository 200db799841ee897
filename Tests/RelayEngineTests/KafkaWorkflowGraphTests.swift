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

/// A workflow graph on the test broker: the dispatcher and a worker on `KafkaTransport` in this process, the run
/// store in SQLite with its outbox publishing to Kafka (as `relay dispatcher` runs it).
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaWorkflowGraphTests {
    @Test(.timeLimit(.minutes(4))) func aDiamondRunsItsBranchesInParallelAndJoinsThem() async throws {
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: kdiamond
                trigger: {plugin: webhook, trigger: webhook, input: {path: kdiamond}}
                steps:
                  - {id: a, plugin: base64, action: encode, input: {content: "{{ trigger.who }}"}}
                  - {id: b, plugin: sleep, action: sleep, needs: [a], input: {interval: 1}}
                  - {id: c, plugin: sleep, action: sleep, needs: [a], input: {interval: 1}}
                  - id: d
                    plugin: base64
                    action: encode
                    needs: [b, c]
                    input:
                      content: "{{ steps.a.output.data }} after {{ steps.b.output.slept }}+{{ steps.c.output.slept }}"
                """, file: "kdiamond.yaml")
        let catalog = PluginCatalog(native: try NativePlugins.all())
        #expect(WorkflowValidator(catalog: catalog, connections: ConnectionStore()).problems(workflow) == [])
        let (finished, run) = try await KafkaRunHarness.run(workflow, event: ["who": "Kafka"], prefix: "graph") {
            assembly, store in
            assembly.services(dispatcher: store, worker: .init(plugins: ["base64", "sleep"], concurrency: 4))
        }

        #expect(finished, "the run finished")
        let detail = try #require(run)
        #expect(detail.summary.status == .succeeded, "\(detail.json)")
        #expect(detail.steps.map(\.stepID).sorted() == ["a", "b", "c", "d"], "each step once")
        let joined = Data("\(Data("Kafka".utf8).base64EncodedString()) after 1+1".utf8).base64EncodedString()
        #expect(detail.steps.last?.output == ["data": .string(joined)], "d read a, b and c")
        let b = try #require(detail.steps.first { $0.stepID == "b" })
        let c = try #require(detail.steps.first { $0.stepID == "c" })
        let (bStart, bEnd) = (try #require(b.startedAt), try #require(b.finishedAt))
        let (cStart, cEnd) = (try #require(c.startedAt), try #require(c.finishedAt))
        #expect(bStart < cEnd && cStart < bEnd, "b and c overlap: b \(bStart)–\(bEnd), c \(cStart)–\(cEnd)")
    }
}
