import DequeModule
import RelayCore
import Synchronization

/// The messages this process publishes, handed to its own subscriptions without reading them back from the
/// table. Every transaction of the bus (`EmbeddedBus.transaction`) gets the next *epoch* once committed, on the
/// database queue, in commit order; the messages it inserted are kept here, with their offsets, for the topics this
/// process subscribes to.
///
/// A subscription that has read its topic from the table at epoch E (it read everything committed by then: reads
/// run on the same queue) is *synced* at E: the table's next messages of its topic are exactly the ones kept here
/// with an epoch after E — as long as no other connection committed in between. Each transaction reads SQLite's
/// `PRAGMA data_version`, which changes when another connection (another process, or another `SQLiteDatabase` on
/// the file) has committed; such a transaction marks the *foreign* epoch, and a subscription synced before it reads
/// the table again. So does one that fell behind what is kept (`capacity` messages or `byteCapacity` bytes per
/// topic). Reading the table stays the rule; the hand-off only skips reads whose answer is known.
final class LocalHandOff: Sendable {
    /// What the hand-off looks at to find and count a kept message, beside its delivery: plain numbers (reading a
    /// delivery out of its deque to compare its epoch copied its message, a retain of each of its references, at every
    /// step of a binary search).
    struct Mark {
        /// The epoch of the transaction that inserted it.
        var epoch: UInt64
        var offset: Int64
        /// What it is counted as against `byteCapacity`: its bytes, eight times over when it also keeps the values
        /// they were written from (`BusMessage.local`: a tree of small objects takes about that).
        var bytes: Int

        init(_ delivery: Delivery, epoch: UInt64) {
            self.epoch = epoch
            offset = delivery.offset
            bytes = delivery.message.value.count * (delivery.message.local == nil ? 1 : 8)
        }
    }

    struct Topic {
        /// In epoch order; the oldest are dropped from the front (a deque: a full topic drops one per message kept).
        var kept: Deque<Delivery> = []
        /// `kept`'s marks, in the same order (one each).
        var marks: Deque<Mark> = []
        var bytes = 0
        /// Messages of epochs up to this one were dropped: a subscription synced before must read.
        var droppedThrough: UInt64 = 0
        /// The epoch each subscription of the topic is synced at (nil: it will read the table).
        var subscribers: [Int: UInt64?] = [:]

        /// Keeps a message, dropping the oldest past `capacity` messages or `byteCapacity` bytes.
        mutating func keep(_ delivery: Delivery, epoch: UInt64, capacity: Int, byteCapacity: Int) {
            let mark = Mark(delivery, epoch: epoch)
            kept.append(delivery)
            marks.append(mark)
            bytes += mark.bytes
            var excess = 0
            var left = bytes
            while marks.count - excess > capacity || (left > byteCapacity && excess < marks.count) {
                left -= marks[excess].bytes
                excess += 1
            }
            drop(excess)
        }

        /// What subscription `id` gets next (see `LocalHandOff.take`); `epoch` is the current one.
        mutating func take(_ id: Int, foreignEpoch: UInt64, epoch now: UInt64) -> [Delivery]? {
            // (A subscription that has closed is not registered again.)
            guard let synced = subscribers[id] else { return nil }
            guard let epoch = synced, foreignEpoch <= epoch, droppedThrough <= epoch else {
                subscribers[id] = .some(nil)
                return nil
            }
            let taken = Array(kept[firstIndex { $0.epoch > epoch }...])
            subscribers[id] = now
            // What every synced subscription of the topic has taken is dropped.
            let oldest = subscribers.values.compactMap { $0 }.min() ?? now
            var passed = 0
            while passed < marks.count, marks[passed].epoch <= oldest { passed += 1 }
            drop(passed)
            return taken
        }

        /// Subscription `id` has read the table through `cursor`, a full batch (more may follow): synced where the
        /// hand-off has every message after `cursor`, if it has (see `LocalHandOff.resync`).
        mutating func resync(_ id: Int, after cursor: Int64, foreignEpoch: UInt64) -> Bool {
            guard subscribers[id] != nil else { return false }
            let after = firstIndex { $0.offset > cursor }
            // (Nothing kept after `cursor`: nothing to take; the table may have more, from another connection.)
            guard after > 0, after < marks.count else { return false }
            let epoch = marks[after - 1].epoch - 1
            guard foreignEpoch <= epoch, droppedThrough <= epoch else { return false }
            subscribers[id] = epoch
            return true
        }

        /// The first kept message that `isAfter` holds for, by binary search (kept in epoch order, and so in
        /// offset order: offsets grow with commits); `marks.count` if none.
        func firstIndex(where isAfter: (Mark) -> Bool) -> Int {
            var low = 0
            var high = marks.count
            while low < high {
                let middle = (low + high) / 2
                if isAfter(marks[middle]) { high = middle } else { low = middle + 1 }
            }
            return low
        }

        /// Drops the first `count` kept messages.
        mutating func drop(_ count: Int) {
            guard count > 0 else { return }
            for mark in marks[..<count] { bytes -= mark.bytes }
            droppedThrough = max(droppedThrough, marks[count - 1].epoch)
            kept.removeFirst(count)
            marks.removeFirst(count)
        }
    }

    private struct State {
        var epoch: UInt64 = 0
        /// The latest epoch whose transaction saw another connection's commit (0: none yet).
        var foreignEpoch: UInt64 = 0
        /// `PRAGMA data_version` as the last committed transaction read it (nil before the first).
        var dataVersion: Int64?
        var topics: [String: Topic] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())
    let capacity: Int
    let byteCapacity: Int

    init(capacity: Int = 4096, byteCapacity: Int = 16 << 20) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    /// Registers a subscription of `topic` (not synced: it reads the table first); its id.
    func register(_ topic: String) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.topics[topic, default: Topic()].subscribers[state.nextID] = .some(nil)
            return state.nextID
        }
    }

    func unregister(_ id: Int, topic: String) {
        state.withLock { state in
            state.topics[topic]?.subscribers[id] = nil
            if state.topics[topic]?.subscribers.isEmpty == true { state.topics[topic] = nil }
        }
    }

    /// The current epoch (on the database queue: what a read there has seen).
    var epoch: UInt64 { state.withLock { $0.epoch } }

    /// A transaction committed (on the database queue, right after COMMIT): `dataVersion` as it read it inside,
    /// and the messages it inserted with their offsets.
    func committed(dataVersion: Int64?, inserted: [(offset: Int64, message: BusMessage)]) {
        state.withLock { state in
            state.epoch += 1
            if dataVersion == nil || dataVersion != state.dataVersion { state.foreignEpoch = state.epoch }
            state.dataVersion = dataVersion
            for (offset, message) in inserted {
                state.topics[message.topic]?.keep(
                    Delivery(message: message, offset: offset, group: ""), epoch: state.epoch, capacity: capacity,
                    byteCapacity: byteCapacity)
            }
        }
    }

    /// What subscription `id` gets next, synced as `synced` last left it: `topic`'s messages kept since the epoch
    /// it is synced at (it is synced at the current one with them); nil when it must read the table (and is no
    /// longer synced).
    func take(_ id: Int, topic: String) -> [Delivery]? {
        state.withLock { state in
            state.topics[topic]?.take(id, foreignEpoch: state.foreignEpoch, epoch: state.epoch)
        }
    }

    /// Subscription `id` has read the table through offset `cursor`, and what it read was a full batch (more may
    /// follow): it is synced again, and true, when the hand-off keeps every message of `topic` after `cursor`, and
    /// some. That is when it keeps a message at or before `cursor` and one after it (offsets grow with commits: what
    /// this process published after the first is kept too, for nothing is dropped after what is kept) and no other
    /// connection committed from that message's transaction on (the messages of another connection's commit before
    /// it are before it); the subscription is then synced at the epoch before that transaction, and passes over what
    /// it has already read. False: it reads the table again; so when nothing is kept after `cursor` (another
    /// connection's commit is seen by the hand-off only at this process's next transaction: a subscription synced
    /// then would wait for a poll at every full batch of another process's burst). Without it, a subscription that
    /// once fell behind what is kept read the table for as long as each read was a full batch: a whole burst
    /// (docs/benchmarks.md, sixteenth round).
    func resync(_ id: Int, topic: String, after cursor: Int64) -> Bool {
        state.withLock { state in
            state.topics[topic]?.resync(id, after: cursor, foreignEpoch: state.foreignEpoch) ?? false
        }
    }

    /// Subscription `id` has read the table at `epoch` and is synced there; nil: it must read the table again.
    func synced(_ id: Int, topic: String, at epoch: UInt64?) {
        state.withLock { state in
            // (A subscription that has closed is not registered again.)
            guard state.topics[topic]?.subscribers[id] != nil else { return }
            state.topics[topic]?.subscribers[id] = .some(epoch)
        }
    }
}
