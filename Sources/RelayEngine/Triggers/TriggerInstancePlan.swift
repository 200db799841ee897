import RelayCore

/// Which trigger instances to start and which to stop so that those running are those the workflows bind: one per
/// distinct binding (`TriggerBinding.instanceID`), among them only those this host owns when trigger hosts share the
/// work (`TriggerOwnership`). An instance whose binding is unchanged and still owned is in no list and goes on as it
/// is.
struct TriggerInstancePlan: Equatable {
    /// Bindings with no instance running, in the order given.
    var start: [TriggerBinding]
    /// Running instances no workflow binds any more, sorted.
    var stop: [String]
    /// Running instances still bound but now owned by another host, sorted.
    var release: [String] = []

    /// `owns` says whether this host runs an instance; it is not asked about those that run on every host.
    init(running: Set<String>, wanted: [TriggerBinding], owns: (String) -> Bool = { _ in true }) {
        let boundIDs = Set(wanted.map(\.instanceID))
        let owned = wanted.filter { $0.runsOnEveryHost || owns($0.instanceID) }
        let ownedIDs = Set(owned.map(\.instanceID))
        var seen = Set<String>()
        start = owned.filter { !running.contains($0.instanceID) && seen.insert($0.instanceID).inserted }
        stop = running.subtracting(boundIDs).sorted()
        release = running.intersection(boundIDs).subtracting(ownedIDs).sorted()
    }
}
