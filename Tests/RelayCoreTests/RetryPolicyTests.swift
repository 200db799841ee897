import RelayCore
import Testing

@Suite struct RetryPolicyTests {
    @Test func theBackoffDoublesUpToItsCap() {
        let policy = RetryPolicy(attempts: 5, backoff: .seconds(1), maxBackoff: .seconds(5))
        #expect((1...5).map(policy.delay(after:)) == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }

    /// Doubling a backoff 100 times overflows Duration (it traps): the delay stops growing at the cap.
    @Test func manyAttemptsDoNotOverflow() {
        let policy = RetryPolicy(attempts: 100, backoff: .seconds(30 * 86_400), maxBackoff: .seconds(300))
        #expect(policy.delay(after: 100) == .seconds(300))
        #expect(RetryPolicy(attempts: 100).delay(after: Int.max) == .seconds(300))
        let huge = RetryPolicy(attempts: 100, backoff: .seconds(1), maxBackoff: .seconds(Int64.max))
        #expect(huge.delay(after: 200) == .seconds(Int64.max))
    }
}
