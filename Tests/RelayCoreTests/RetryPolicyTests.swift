import RelayCore
import Testing

@Suite struct RetryPolicyTests {
    @Test func doublesTheBackoffUpToTheCap() {
        let policy = RetryPolicy(attempts: 10, backoff: .seconds(1), maxBackoff: .seconds(300))
        #expect(
            (1...10).map { policy.delay(after: $0) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300].map { .seconds($0) })
    }

    /// Found by scripts/fuzz: `retry: {attempts: 200, backoff: 1s}` made delay(after: 200) overflow Duration and
    /// trap in the dispatcher; a huge attempt count must not loop for ever either.
    @Test(arguments: [200, 10_000, Int.max])
    func manyAttemptsGiveTheCap(attempt: Int) {
        let policy = RetryPolicy(attempts: attempt, backoff: .seconds(1), maxBackoff: .seconds(300))
        #expect(policy.delay(after: attempt) == .seconds(300))
    }

    @Test func aBackoffAboveTheCapIsTheCap() {
        let policy = RetryPolicy(attempts: 3, backoff: .seconds(1_000), maxBackoff: .seconds(300))
        #expect(policy.delay(after: 1) == .seconds(300))
        #expect(policy.delay(after: 3) == .seconds(300))
    }
}
