import RelayCore
import Synchronization

/// The trigger events of runs in flight, parsed, by run id: a run's trigger event never changes once the run is
/// created, and the dispatcher renders over it at every step (it used to be read and parsed again each time).
/// Bounded: at most `byteCapacity` bytes of events' text in all, and only events whose text is at most
/// `maximumBytes` long (a larger one is read as before); a run's entry goes when the run ends, or, when the cache is
/// full, the oldest goes. (A burst of 10,000 small events keeps them all: a few MiB. A `for_each` over an event's
/// 10,000 items renders over it at every item: the 49 KB event was parsed 10,000 times when events above 16 KiB were
/// not kept.)
/// Being immutable, an entry is right for every dispatcher that shares the store. A transaction reads through a
/// `Staging`, whose additions and removals reach the cache only once the transaction has committed.
final class TriggerEventCache: Sendable {
    private let events: Mutex<OldestFirstStore<JSONValue>>
    let byteCapacity: Int
    let maximumBytes: Int

    init(byteCapacity: Int = 16 << 20, maximumBytes: Int = 1 << 20) {
        self.byteCapacity = byteCapacity
        self.maximumBytes = maximumBytes
        events = Mutex(OldestFirstStore(capacity: byteCapacity))
    }

    subscript(runID: String) -> JSONValue? { events.withLock { $0[runID] } }

    /// Run ids the order list holds (for tests: it does not grow with every run ever kept).
    var tracked: Int { events.withLock { $0.tracked } }

    /// Keeps the event of `runID` (parsed from `bytes` bytes of text).
    func keep(_ event: JSONValue, of runID: String, bytes: Int) {
        guard bytes <= maximumBytes else { return }
        events.withLock { $0.keep(event, bytes: bytes, for: runID) }
    }

    /// The run has ended: its event is not needed any more.
    func forget(_ runID: String) {
        events.withLock { $0.remove(runID) }
    }
}

extension TriggerEventCache {
    /// One transaction's view of the cache: reads see the cache and what the transaction kept; what it keeps or
    /// forgets reaches the cache at `commit` (after the transaction has committed), never from a rolled-back one.
    final class Staging: Sendable {
        private let cache: TriggerEventCache
        private let changes = Mutex<(kept: [String: (JSONValue, Int)], forgotten: Set<String>)>(([:], []))

        init(_ cache: TriggerEventCache) { self.cache = cache }

        subscript(runID: String) -> JSONValue? {
            let staged = changes.withLock { changes -> JSONValue?? in
                if changes.forgotten.contains(runID) { return .some(nil) }
                return changes.kept[runID].map { .some($0.0) }
            }
            if let staged { return staged }
            return cache[runID]
        }

        func keep(_ event: JSONValue, of runID: String, bytes: Int) {
            changes.withLock { $0.kept[runID] = (event, bytes) }
        }

        func forget(_ runID: String) {
            changes.withLock { _ = $0.forgotten.insert(runID) }
        }

        /// The transaction committed: its changes go to the cache.
        func commit() {
            let (kept, forgotten) = changes.withLock { ($0.kept, $0.forgotten) }
            for (runID, (event, bytes)) in kept where !forgotten.contains(runID) {
                cache.keep(event, of: runID, bytes: bytes)
            }
            for runID in forgotten { cache.forget(runID) }
        }
    }
}
