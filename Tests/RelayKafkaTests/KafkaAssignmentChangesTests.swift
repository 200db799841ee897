import Foundation
import RelayKafka
import RelayTestSupport
import RelayTransport
import Testing

/// `KafkaConsumer.assignmentChanges()`: what a member owns, told from the rebalance callback.
@Suite(.enabled(if: TestBroker.isAvailable, TestBroker.skipReason))
struct KafkaAssignmentChangesTests {
    @Test(.timeLimit(.minutes(3))) func aMemberIsToldEachAssignmentAndAnEmptyOneWhenItCloses() async throws {
        let admin = try KafkaAdmin(configuration: TestBroker.client, logger: quietLogger)
        let topic = uniqueName("owners")
        _ = try await admin.createTopics([TopicDeclaration(name: topic, partitions: 4)])
        await admin.close()
        let group = uniqueName("g")
        let all = Set((0..<4).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) })
        let first = try KafkaConsumer(
            configuration: TestBroker.consumer(group: group), topics: [topic], logger: quietLogger)
        let told = Collected<Set<KafkaTopicPartition>>()
        let watcher = Task {
            for await assignment in first.assignmentChanges() { await told.append(assignment) }
        }
        let alone = await waitFor { await told.items.last == all }
        var items = await told.items
        #expect(alone, "alone, it owns every partition: \(items)")
        // The stream starts with the assignment of the moment: nothing when it subscribed before the join, every
        // partition when the member had already joined (a loaded machine can be that slow to start the task).
        #expect(items.first == [] || items.first == all, "the current assignment first: \(items)")

        // A second member: the first is told it gives partitions up.
        let second = try KafkaConsumer(
            configuration: TestBroker.consumer(group: group), topics: [topic], logger: quietLogger)
        let shared = await waitFor {
            let last = await told.items.last ?? []
            return !last.isEmpty && last.count < 4 && last == first.assignment
                && last.isDisjoint(with: second.assignment) && last.union(second.assignment) == all
        }
        items = await told.items
        #expect(shared, "told \(items); the second owns \(second.assignment)")

        await first.close()
        await watcher.value // the stream ends when the consumer is closed
        #expect(await told.items.last == [], "closed, it owns nothing")
        #expect(await waitFor { second.assignment == all }, "the second member takes every partition")
        await second.close()
    }
}
