import Testing

@testable import RelayKafka

/// A partition's progress: the committable offset follows the contiguous acknowledged prefix, and offsets the
/// broker never returned are reported (a consumer that skips them would otherwise commit past them in silence).
@Suite struct PartitionProgressTests {
    @Test func theCommittableOffsetFollowsTheContiguousAcknowledgedPrefix() {
        var progress = PartitionProgress()
        for offset in Int64(10)...13 { _ = progress.deliver(offset) }
        let outOfOrder = progress.acknowledge(11)
        #expect(!outOfOrder && progress.committable == nil, "11 before 10: nothing to commit yet")
        let first = progress.acknowledge(10)
        #expect(first && progress.committable == 12)
        let unknown = progress.acknowledge(99)
        #expect(!unknown && progress.committable == 12, "an offset never delivered changes nothing")
        let next = progress.acknowledge(12)
        #expect(next && progress.committable == 13)
    }

    @Test func offsetsTheBrokerSkippedAreReported() {
        var progress = PartitionProgress()
        let gaps = [Int64(5), 6, 9, 10].map { progress.deliver($0) }
        // The first message after an assignment starts where the group was: no gap before it.
        #expect(gaps == [nil, nil, 7..<9, nil])
        // The gap does not hold back the commit: the broker will not return those offsets again.
        for offset: Int64 in [5, 6, 9, 10] { _ = progress.acknowledge(offset) }
        #expect(progress.committable == 11)
    }
}
