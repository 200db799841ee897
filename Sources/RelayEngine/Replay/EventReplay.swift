import Foundation
import RelayCore
import RelayStore
import RelayTransport

/// Publishes recorded trigger events again, as new events (`relay events replay`, the API): the workflows bound
/// to their trigger instance now run on past input with their current version. Reads the payloads the run store
/// keeps (within the event retention, `--event-retention`).
public struct EventReplay: Sendable {
    /// The most events one replay publishes.
    public static let maximumEvents = 10_000
    /// The most bytes of payloads one replay reads (they are read into memory at once).
    public static let maximumBytes = 256 << 20

    let store: any RunStore
    let transport: any Transport

    public init(store: any RunStore, transport: any Transport) {
        self.store = store
        self.transport = transport
    }

    /// Publishes every kept event of trigger instance `instance` received in [since, until] again with a new
    /// id (same instance/plugin/trigger/output, time now), oldest first; returns the new event ids.
    /// Throws RelayError(.invalidValue) when the range is empty/inverted or exceeds 10,000 events.
    ///
    /// With `workflow`, the new events start that workflow alone (as a run started by hand, `ManualRun`), not every
    /// workflow bound to the instance now.
    public func replay(instance: String, since: Double, until: Double, workflow: String? = nil) async throws
        -> [String]
    {
        guard since.isFinite, until.isFinite, since < until else {
            throw RelayError(
                .invalidValue,
                "replay of \(instance): expected a time range whose start is before its end, found "
                    + "\(Self.text(since)) to \(Self.text(until))")
        }
        let volume = try await store.eventVolume(instance: instance, since: since, until: until)
        guard volume.count <= Self.maximumEvents, volume.bytes <= Self.maximumBytes else {
            throw RelayError(
                .invalidValue,
                "replay of \(instance): \(volume.count) events (\(volume.bytes) bytes) were received from "
                    + "\(Self.text(since)) to \(Self.text(until)); one replay publishes at most \(Self.maximumEvents) "
                    + "events and \(Self.maximumBytes) bytes: replay a shorter range")
        }
        let events = try await store.events(
            instance: instance, since: since, until: until, limit: Self.maximumEvents + 1)
        guard events.count <= Self.maximumEvents else {
            throw RelayError(
                .invalidValue,
                "replay of \(instance): more than \(Self.maximumEvents) events were received from \(Self.text(since)) "
                    + "to \(Self.text(until)), the most one replay publishes; replay a shorter range")
        }
        let now = Date().timeIntervalSince1970
        let replayed = events.map { event in
            TriggerEvent(
                id: UUID().uuidString.lowercased(), instance: workflow.map(ManualRun.instance(of:)) ?? event.instance,
                plugin: event.plugin,
                trigger: event.trigger, output: event.output, time: now)
        }
        // In slices, so that no one publish (one transaction on the embedded bus) grows without bound.
        for start in stride(from: 0, to: replayed.count, by: 500) {
            try await transport.publish(replayed[start..<min(start + 500, replayed.count)].map(\.message))
        }
        return replayed.map(\.id)
    }

    static func text(_ seconds: Double) -> String {
        seconds.isFinite ? RunTime.text(seconds) : "\(seconds)"
    }
}
