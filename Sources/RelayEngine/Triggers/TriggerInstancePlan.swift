import RelayCore

/// Which trigger instances to start and which to stop so that those running are those the workflows bind: one per
/// distinct binding (`TriggerBinding.instanceID`). An instance whose binding is unchanged is in neither list and
/// goes on as it is.
struct TriggerInstancePlan: Equatable {
    /// Bindings with no instance running, in the order given.
    var start: [TriggerBinding]
    /// Running instances no workflow binds any more, sorted.
    var stop: [String]

    init(running: Set<String>, wanted: [TriggerBinding]) {
        let wantedIDs = Set(wanted.map(\.instanceID))
        var seen = Set<String>()
        start = wanted.filter { !running.contains($0.instanceID) && seen.insert($0.instanceID).inserted }
        stop = running.subtracting(wantedIDs).sorted()
    }
}
