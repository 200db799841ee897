import RelayTransport

/// Group commit for job results: results that finish while a commit is under way are committed together in the
/// next one (each with the acknowledgement of its job), so a busy worker needs far fewer transactions than jobs.
actor ResultCommitter {
    private let bus: any Transport
    private var pending: [(BusMessage, Delivery, CheckedContinuation<Void, any Error>)] = []
    private var committing = false

    init(bus: any Transport) { self.bus = bus }

    /// Returns once the result is published and the job acknowledged.
    func commit(_ result: BusMessage, acknowledging delivery: Delivery) async throws {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((result, delivery, continuation))
            if !committing {
                committing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            do {
                try await bus.publish(batch.map(\.0), acknowledging: batch.map(\.1))
                for item in batch { item.2.resume() }
            } catch {
                for item in batch { item.2.resume(throwing: error) }
            }
        }
        committing = false
    }
}
