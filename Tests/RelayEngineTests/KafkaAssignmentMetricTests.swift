import Foundation
import RelayKafka
import RelayTransport
import Testing

@testable import RelayEngine

/// `relay_kafka_assigned_partitions` at /metrics says what a process's consumers own: 0 before the group is joined,
/// every partition once this member is the group's only one. (`relay bench --brokers` waits on it.)
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaAssignmentMetricTests {
    @Test func theGaugeShowsTheMembersPartitions() async throws {
        let prefix = "assign-\(UUID().uuidString.prefix(8).lowercased())."
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [EngineTestBroker.address!]))
        configuration.topicPrefix = prefix
        configuration.defaultPartitions = 3
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        let bus = try KafkaTransport(configuration: configuration)
        let metrics = PipelineMetrics()
        metrics.observeAssignedPartitions { bus.assignedPartitions }
        #expect(!(await metrics.prometheusText()).contains("relay_kafka_assigned_partitions{"), "no subscription yet")

        let subscription = try await bus.subscribe(topic: "jobs.demo", group: "workers")
        let sample = "relay_kafka_assigned_partitions{group=\"\(prefix)workers\",topic=\"\(prefix)jobs.demo\"}"
        #expect(await metrics.prometheusText().contains("# TYPE relay_kafka_assigned_partitions gauge"))
        // Polling serves the group join: wait for it by asking for a message (none comes).
        let polling = Task { _ = try? await subscription.next() }
        let deadline = ContinuousClock.now + .seconds(60)
        while !(await metrics.prometheusText()).contains(sample + " 3"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = await metrics.prometheusText()
        #expect(text.contains(sample + " 3"), "\(text)")
        #expect(
            bus.assignedPartitions == [.init(group: prefix + "workers", topic: prefix + "jobs.demo", partitions: 3)])
        polling.cancel()
        await bus.close()
        #expect(bus.assignedPartitions.isEmpty, "a closed subscription owns nothing")
    }

    @Test func labelValuesAreEscaped() {
        #expect(PipelineMetrics.escaped(#"a"b\c"#) == #"a\"b\\c"#)
    }
}
