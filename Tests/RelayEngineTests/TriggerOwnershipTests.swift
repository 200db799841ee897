import Foundation
import RelayCore
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// An ownership the test sets by hand: which instances this host owns, and a wake-up for the host at each change.
final class GrantedOwnership: TriggerOwnership {
    private let owned = Mutex<Set<String>>([])
    private let observers = Mutex<[AsyncStream<Void>.Continuation]>([])

    func owns(_ instance: String) -> Bool { owned.withLock { $0.contains(instance) } }

    func changes() -> any AsyncSequence<Void, Never> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        observers.withLock { $0.append(continuation) }
        continuation.yield()
        return stream
    }

    func grant(_ instances: Set<String>) {
        owned.withLock { $0 = instances }
        for observer in observers.withLock({ $0 }) { observer.yield() }
    }
}

@Suite struct TriggerOwnershipTests {
    static let timer = """
        name: tick
        trigger: {plugin: timer, trigger: interval, input: {seconds: 1, fire_immediately: true}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: x}}
        """
    static let webhook = """
        name: hook
        trigger: {plugin: webhook, trigger: webhook, input: {path: hook}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: x}}
        """

    @Test func anInstanceBelongsToAPartitionByAStableHashOfItsID() {
        // FNV-1a (64 bits) of the UTF-8 bytes: "a" is 0xaf63dc4c8601ec8c, 4 modulo 12, on every host and run.
        #expect(KafkaTriggerOwnership.partition(of: "a", among: 12) == 4)
        #expect(KafkaTriggerOwnership.partition(of: "timer.interval#1", among: 12) == 9)
        #expect(KafkaTriggerOwnership.partition(of: "webhook.webhook#x", among: 12) == 10)
        #expect(KafkaTriggerOwnership.partition(of: "a", among: 1) == 0)
        // Instances spread over the partitions.
        let partitions = Set((0..<200).map { KafkaTriggerOwnership.partition(of: "timer.interval#\($0)", among: 12) })
        #expect(partitions == Set(0..<12))
    }

    @Test func aHostStartsOnlyTheInstancesItOwnsAndEveryWebhook() throws {
        let bindings = TriggerHost.bindings(
            of: try [Self.timer, Self.webhook].map { try WorkflowDecoder.decode(yaml: $0, file: "w.yaml") })
        let (timer, webhook) = (bindings[0].instanceID, bindings[1].instanceID)
        #expect(bindings[1].runsOnEveryHost && !bindings[0].runsOnEveryHost)

        let nothingOwned = TriggerInstancePlan(running: [], wanted: bindings, owns: { _ in false })
        #expect(nothingOwned.start.map(\.instanceID) == [webhook], "a webhook runs on every host")

        let timerOwned = TriggerInstancePlan(running: [webhook], wanted: bindings, owns: { $0 == timer })
        #expect(timerOwned.start.map(\.instanceID) == [timer])
        #expect(timerOwned.stop.isEmpty && timerOwned.release.isEmpty)

        let moved = TriggerInstancePlan(running: [webhook, timer], wanted: bindings, owns: { _ in false })
        #expect(moved.start.isEmpty)
        #expect(moved.release == [timer], "owned by another host now")
        #expect(moved.stop.isEmpty)

        let unbound = TriggerInstancePlan(running: [webhook, timer], wanted: [bindings[1]], owns: { _ in false })
        #expect(unbound.stop == [timer], "no workflow binds it: stopped, whoever owns it")
        #expect(unbound.release.isEmpty)
    }

    @Test func theHostFollowsItsOwnership() async throws {
        try await withHost([Self.timer, Self.webhook]) { host, ownership, instances in
            let (timer, webhook) = (instances[0], instances[1])
            #expect(await waitFor { host.runningInstances == [webhook] }, "the webhook runs, the timer is not owned")
            ownership.grant([timer])
            #expect(await waitFor { host.runningInstances == [timer, webhook] }, "owned: it starts")
            ownership.grant([])
            #expect(await waitFor { host.runningInstances == [webhook] }, "owned elsewhere: it stops")
        }
    }

    @Test func aTimersEventIdIsItsInstanceAndItsTick() async throws {
        // Two hosts that both run one timer (as two owners do for a moment during a failover) send its ticks with
        // the same ids. Each collects until they have sent one tick in common (the ticks are the schedule's, so
        // they do as soon as both run in the same second), or 60 ticks each.
        let (firstEvents, secondEvents) = (Collected<TriggerEvent>(), Collected<TriggerEvent>())
        let overlap: @Sendable () async -> Bool = {
            !Set(await firstEvents.items.map(\.id)).isDisjoint(with: await secondEvents.items.map(\.id))
        }
        async let firstHost: Void = collectTimerEvents(into: firstEvents, until: overlap)
        async let secondHost: Void = collectTimerEvents(into: secondEvents, until: overlap)
        _ = try await (firstHost, secondHost)
        let (first, second) = (await firstEvents.items, await secondEvents.items)
        let instance = try WorkflowDecoder.decode(yaml: Self.timer, file: "w.yaml").trigger!.instanceID
        for event in first + second {
            #expect(event.id == instance + "@" + (event.output["time"]?.stringValue ?? "?"), "\(event.id)")
        }
        let shared = Set(first.map(\.id)).intersection(second.map(\.id))
        #expect(shared.count >= 1, "the ticks both fired: \(first.map(\.id)), \(second.map(\.id))")
        #expect(
            try TriggerHost.eventID(instance: "x", position: nil) != TriggerHost.eventID(instance: "x", position: nil))
        #expect(throws: RelayError.self) {
            try TriggerHost.eventID(instance: "x", position: String(repeating: "p", count: 300))
        }
    }

    /// Runs the timer workflow on a host of its own until it has sent `count` events; returns them.
    /// Runs a host with the timer and collects its events until `done` holds or it has sent 60.
    private func collectTimerEvents(
        into collected: Collected<TriggerEvent>, until done: @escaping @Sendable () async -> Bool
    ) async throws {
        try await withHost([Self.timer], ownership: nil) { host, _, _ in
            let events = try await host.bus.subscribe(topic: Topics.events, group: "test")
            while await !done(), await collected.items.count < 60, let delivery = try await events.next() {
                await collected.append(try TriggerEvent(bytes: delivery.message.value))
            }
        }
    }

    /// A trigger host over a fresh embedded bus running `workflows`, with an ownership set by hand (or none).
    private func withHost<T>(
        _ workflows: [String], ownership: GrantedOwnership? = GrantedOwnership(),
        _ body: (TriggerHost, GrantedOwnership, [String]) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-owners-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(20))
        let decoded = try workflows.map { try WorkflowDecoder.decode(yaml: $0, file: "w.yaml") }
        let host = TriggerHost(
            bus: bus, states: try SQLTriggerStateStore(database: database),
            catalog: PluginCatalog(native: try NativePlugins.all()), connections: ConnectionStore(),
            registry: WorkflowRegistry(decoded), ownership: ownership)
        let running = Task { try? await host.run() }
        defer { running.cancel() }
        return try await body(host, ownership ?? GrantedOwnership(), decoded.compactMap(\.trigger?.instanceID))
    }
}
