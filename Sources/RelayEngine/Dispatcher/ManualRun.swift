import Foundation
import RelayCore

/// A run started by hand (`POST /api/v1/workflows/{name}/runs`): an event of the pseudo trigger instance
/// `manual:NAME`, which the dispatcher binds to the workflow `NAME` alone (whatever its trigger, or none), so that
/// it goes through `relay.events` like every event: recorded, deduplicated, kept for replay.
public enum ManualRun {
    static let prefix = "manual:"

    /// The trigger instance of manual runs of `workflow`.
    public static func instance(of workflow: String) -> String { prefix + workflow }

    /// The workflow a manual instance starts, or nil for any other instance.
    public static func workflow(ofInstance instance: String) -> String? {
        instance.hasPrefix(prefix) ? String(instance.dropFirst(prefix.count)) : nil
    }

    /// The event that starts a run of `workflow` with `body` as its trigger output, and the id of that run.
    public static func event(workflow: String, body: JSONValue) -> (event: TriggerEvent, runID: String) {
        let event = TriggerEvent(
            id: UUID().uuidString.lowercased(), instance: instance(of: workflow), plugin: nil, trigger: "manual",
            output: body, time: Date().timeIntervalSince1970)
        return (event, Dispatcher.runID(of: event, workflow: workflow))
    }
}
