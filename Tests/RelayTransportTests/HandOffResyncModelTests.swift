import Foundation
import RelayCore
import Testing

@testable import RelayTransport

/// The hand-off against a model of the table: random local and foreign commits (another connection's, seen by the
/// hand-off at this process's next transaction), and one to three subscriptions that do what
/// `EmbeddedSubscription.next()` does (take from the hand-off; or read a batch from the table and then be synced,
/// synced again after a full batch (`resync`), or not), their steps interleaved with the commits, with a small
/// hand-off and small batches. Each subscription receives every offset exactly once, in order. (Written by a review
/// of `LocalHandOff.resync`; it fails if a resync is synced at its message's epoch instead of the one before.)
@Suite struct HandOffResyncModelTests {
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    struct Sub {
        var id: Int
        var cursor: Int64 = 0
        var received: [Int64] = []
        var pending: (batch: [Int64], epoch: UInt64)?
    }

    @Test(arguments: 0..<400) func resyncNeverSkipsNorRepeats(seed: Int) {
        var rng = Rng(state: UInt64(seed) &* 7919 &+ 1)
        let limit = 1 + rng.below(6)
        let handOff = LocalHandOff(capacity: 2 + rng.below(10))
        var table: [Int64] = [] // offsets of topic "t"
        var nextOffset: Int64 = 1
        var dataVersion: Int64 = 1
        var subs = (0..<(1 + rng.below(3))).map { _ in Sub(id: handOff.register("t")) }
        func localCommit() {
            let count = rng.below(5) // 0: an acknowledgement only
            var inserted: [(offset: Int64, message: BusMessage)] = []
            for _ in 0..<count {
                // Another topic's message now and then: offsets of "t" are not contiguous.
                if rng.below(4) == 0 { nextOffset += 1 }
                inserted.append((nextOffset, BusMessage(topic: "t", key: "k", value: [1])))
                table.append(nextOffset)
                nextOffset += 1
            }
            handOff.committed(dataVersion: dataVersion, inserted: inserted)
        }
        func foreignCommit() {
            dataVersion += 1
            for _ in 0..<rng.below(5) {
                table.append(nextOffset)
                nextOffset += 1
            }
        }
        func step(_ index: Int, quiet: Bool) {
            var sub = subs[index]
            defer { subs[index] = sub }
            if let (batch, epoch) = sub.pending {
                sub.pending = nil
                if batch.count < limit {
                    handOff.synced(sub.id, topic: "t", at: epoch)
                } else if let last = batch.last, handOff.resync(sub.id, topic: "t", after: last) {
                } else {
                    handOff.synced(sub.id, topic: "t", at: nil)
                }
                if let last = batch.last {
                    sub.received += batch
                    sub.cursor = last
                }
                return
            }
            if let handed = handOff.take(sub.id, topic: "t") {
                let fresh = handed.map(\.offset).filter { $0 > sub.cursor }
                if let last = fresh.last {
                    sub.received += fresh
                    sub.cursor = last
                } else if handed.isEmpty, quiet || rng.below(3) == 0 {
                    // A wait that no local publish ended: read the table.
                    handOff.synced(sub.id, topic: "t", at: nil)
                }
                return
            }
            let batch = Array(table.filter { $0 > sub.cursor }.prefix(limit))
            sub.pending = (batch, handOff.epoch)
        }
        for _ in 0..<300 {
            switch rng.below(10) {
            case 0...3: localCommit()
            case 4: foreignCommit()
            default: step(rng.below(subs.count), quiet: false)
            }
        }
        // No more commits: every subscription catches up.
        for index in subs.indices {
            var guardSteps = 0
            while subs[index].cursor != (table.last ?? 0) || subs[index].pending != nil, guardSteps < 100_000 {
                step(index, quiet: true)
                guardSteps += 1
            }
            #expect(subs[index].received == table, "seed \(seed), sub \(index)")
        }
    }
}
