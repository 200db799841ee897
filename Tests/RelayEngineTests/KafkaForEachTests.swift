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

/// A `for_each` step on the test broker: the dispatcher and a worker on `KafkaTransport` in this process, the run
/// store in SQLite with its outbox publishing to Kafka (as `relay dispatcher` runs it).
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaForEachTests {
    @Test(.timeLimit(.minutes(4))) func aForEachRunsEveryItemAndGivesTheirOutputsInOrder() async throws {
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: kforeach
                trigger: {plugin: webhook, trigger: webhook, input: {path: kforeach}}
                steps:
                  - id: each
                    plugin: base64
                    action: encode
                    for_each: "{{ trigger.words }}"
                    concurrency: 3
                    input: {content: "{{ index }}:{{ item }}"}
                  - {id: after, plugin: base64, action: encode, input: {content: "{{ steps.each.output[9].data }}"}}
                """, file: "kforeach.yaml")
        let catalog = PluginCatalog(native: try NativePlugins.all())
        #expect(WorkflowValidator(catalog: catalog, connections: ConnectionStore()).problems(workflow) == [])
        let words = (0..<10).map { "w\($0)" }
        let (finished, run) = try await KafkaRunHarness.run(
            workflow, event: ["words": .array(words.map(JSONValue.string))], prefix: "foreach"
        ) {
            assembly, store in assembly.services(dispatcher: store, worker: .init(plugins: ["base64"], concurrency: 4))
        }

        #expect(finished, "the run finished")
        let detail = try #require(run)
        #expect(detail.summary.status == .succeeded, "\(detail.json)")
        let encoded = words.enumerated().map {
            JSONValue.string(Data("\($0.offset):\($0.element)".utf8).base64EncodedString())
        }
        let each = try #require(detail.steps.first { $0.stepID == "each" })
        #expect(each.output == .array(encoded.map { ["data": $0] }), "every item once, in item order")
        #expect(detail.items.count == 10, "one attempt per item")
        #expect(detail.items(of: "each")?.done == 10)
        let last = Data(Data("9:w9".utf8).base64EncodedString().utf8).base64EncodedString()
        #expect(detail.steps.last?.output == ["data": .string(last)], "the next step read the array")
    }
}
