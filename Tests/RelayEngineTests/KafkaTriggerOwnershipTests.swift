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

/// Two trigger hosts in this process, each with its own Kafka clients, sharing the trigger hosts' group on the test
/// broker and one trigger state store (as `relay triggers` processes share a PostgreSQL one).
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaTriggerOwnershipTests {
    static let workflows = [
        """
        name: tick
        trigger: {plugin: timer, trigger: interval, input: {seconds: 1, fire_immediately: true}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: x}}
        """,
        """
        name: hook
        trigger: {plugin: webhook, trigger: webhook, input: {path: hook}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: x}}
        """,
    ]

    @Test(.timeLimit(.minutes(4))) func aTimerRunsOnOneHostAndMovesWhenThatHostLeaves() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-owners-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let states = try SQLTriggerStateStore(
            database: try SQLiteDatabase(path: directory.appendingPathComponent("triggers.sqlite").path))
        let workflows = try Self.workflows.map { try WorkflowDecoder.decode(yaml: $0, file: "w.yaml") }
        let (timer, webhook) = (workflows[0].trigger!.instanceID, workflows[1].trigger!.instanceID)
        let prefix = "owners-\(UUID().uuidString.prefix(8))."
        var ownershipConfiguration = KafkaTriggerOwnership.Configuration()
        ownershipConfiguration.heartbeatIntervalMilliseconds = 500

        let transports = try (0..<2).map { _ in try Self.transport(prefix: prefix) }
        var ownerships: [KafkaTriggerOwnership] = []
        for transport in transports {
            ownerships.append(try await KafkaTriggerOwnership.join(transport, configuration: ownershipConfiguration))
        }
        let catalog = PluginCatalog(native: try NativePlugins.all())
        let hosts = zip(transports, ownerships).map { transport, ownership in
            TriggerHost(
                bus: transport, states: states, catalog: catalog, connections: ConnectionStore(),
                registry: WorkflowRegistry(workflows), ownership: ownership)
        }
        let running = hosts.map { host in Task { try? await host.run() } }
        let events = try await transports[0].subscribe(topic: Topics.events, group: "reader")
        let received = Collected<TriggerEvent>()
        let reader = Task {
            while let delivery = try await events.next() {
                await received.append(try TriggerEvent(bytes: delivery.message.value))
            }
        }
        defer {
            reader.cancel()
            for task in running { task.cancel() }
        }

        // Both joined and the four partitions are shared out: the timer runs on its partition's owner only, the
        // webhook on both.
        let settled = await waitFor {
            let owned = ownerships.map(\.ownedPartitions)
            return owned[0].isDisjoint(with: owned[1]) && owned[0].union(owned[1]).count == 4
                && !owned[0].isEmpty && !owned[1].isEmpty
                && hosts.filter { $0.runningInstances.contains(timer) }.count == 1
                && hosts.allSatisfy { $0.runningInstances.contains(webhook) }
        }
        #expect(settled, "owned: \(ownerships.map(\.ownedPartitions)), running: \(hosts.map(\.runningInstances))")
        let partition = KafkaTriggerOwnership.partition(of: timer, among: 4)
        let owner = try #require(ownerships.firstIndex { $0.ownedPartitions.contains(partition) })
        let other = 1 - owner
        #expect(hosts[owner].runningInstances.contains(timer))
        #expect(!hosts[other].runningInstances.contains(timer))
        #expect(await waitFor { await received.items.count >= 2 }, "the timer's first events")

        // The owner's membership ends: the other host takes the timer over, and goes on from the owner's last tick.
        let left = ContinuousClock.now
        await ownerships[owner].leave()
        let moved = await waitFor {
            hosts[other].runningInstances.contains(timer) && !hosts[owner].runningInstances.contains(timer)
        }
        let failover = ContinuousClock.now - left
        print("trigger ownership: the timer moved to the other host \(failover) after its owner left the group")
        #expect(moved, "running: \(hosts.map(\.runningInstances))")
        #expect(hosts[owner].runningInstances == [webhook], "the host that left still serves its webhooks")
        let before = await received.items.count
        #expect(await waitFor { await received.items.count >= before + 2 }, "the timer fires on the other host")

        // Every event's id is the timer's tick, and the ticks go on without a gap across the move (a tick sent by
        // both hosts has one id: the dispatcher starts one run).
        let sent = await received.items
        for event in sent {
            #expect(event.instance == timer)
            #expect(event.id == timer + "@" + (event.output["time"]?.stringValue ?? "?"), "\(event.id)")
        }
        let formatter = ISO8601DateFormatter()
        let ticks = Set(sent.compactMap { $0.output["time"]?.stringValue.flatMap(formatter.date(from:)) }).sorted()
        let gaps = zip(ticks, ticks.dropFirst()).filter { $1.timeIntervalSince($0) != 1 }
        #expect(gaps.isEmpty, "ticks skipped: \(gaps), ticks: \(ticks)")

        reader.cancel()
        for task in running { task.cancel() }
        for task in running { await task.value }
        for transport in transports { await transport.close() }
    }

    static func transport(prefix: String) throws -> KafkaTransport {
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [EngineTestBroker.address!]))
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.defaultPartitions = 2
        configuration.topicPrefix = prefix
        configuration.topics = [TopicDeclaration(name: KafkaTriggerOwnership.topic, partitions: 4)]
        return try KafkaTransport(configuration: configuration)
    }
}
