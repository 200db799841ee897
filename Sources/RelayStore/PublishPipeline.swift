import RelayTransport

/// What decisions committed to an outbox publish, and the acknowledgements of their inputs, carried out in commit
/// order while the next decisions are made (`RunStore.pipelinedTransaction`): a dispatcher on Kafka does not wait for
/// the broker's round trip before it decides its next batch.
///
/// The guarantees are the outbox's: a decision's messages are in the outbox when it commits, so a crash before
/// they are published leaves them for the next start; a batch's deliveries are acknowledged only after its
/// messages (and every earlier batch's) are published, so a crash before that delivers them again, to a store that
/// has their decisions and emits nothing twice. At most `limit` batches wait; a failure to publish or acknowledge
/// stops the pipeline and is thrown by the next call (and by `flush`).
actor PublishPipeline {
    private struct Batch {
        var publish: (@Sendable () async throws -> Void)?
        var deliveries: [Delivery]
    }

    private let transport: any Transport
    private let limit: Int
    private var waiting: [Batch] = []
    /// Batches taken by the drain and not done.
    private var draining = 0
    private var running = false
    private var failure: (any Error)?
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    init(transport: any Transport, limit: Int = 4) {
        self.transport = transport
        self.limit = max(1, limit)
    }

    /// Queues a committed batch: `publish` (nil: it wrote nothing) and then the acknowledgement of `deliveries`.
    /// Waits while `limit` batches wait already.
    func submit(publish: (@Sendable () async throws -> Void)?, acknowledging deliveries: [Delivery]) async throws {
        while failure == nil && waiting.count + draining >= limit {
            await withCheckedContinuation { spaceWaiters.append($0) }
        }
        if let failure { throw failure }
        guard publish != nil || !deliveries.isEmpty else { return }
        waiting.append(Batch(publish: publish, deliveries: deliveries))
        if !running {
            running = true
            Task { await drain() }
        }
    }

    /// Returns once every batch submitted is published and acknowledged; throws what failed.
    func flush() async throws {
        if running { await withCheckedContinuation { idleWaiters.append($0) } }
        if let failure { throw failure }
    }

    private func drain() async {
        while failure == nil && !waiting.isEmpty {
            let batches = waiting
            waiting = []
            draining = batches.count
            do {
                for batch in batches { try await batch.publish?() }
                let deliveries = batches.flatMap(\.deliveries)
                if !deliveries.isEmpty { try await transport.publish([], acknowledging: deliveries) }
            } catch {
                failure = error
            }
            draining = 0
            let space = spaceWaiters
            spaceWaiters = []
            for waiter in space { waiter.resume() }
        }
        running = false
        let idle = idleWaiters
        idleWaiters = []
        for waiter in idle { waiter.resume() }
    }
}
