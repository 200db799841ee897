import RelayTransport

/// Group commit for job results: results that finish while a commit is under way are committed together in the
/// next one (each with the acknowledgement of its job), so a busy worker needs far fewer transactions than jobs.
/// The caller that finds no commit under way commits itself (its result, and whatever has come meanwhile, until
/// nothing is left): no task is started per commit.
actor ResultCommitter {
    private let sink: MessageSink
    private var pending: [(SinkMessage, Delivery, CheckedContinuation<Void, any Error>)] = []
    private var committing = false

    init(sink: MessageSink) { self.sink = sink }

    /// Returns once the result is committed and the job acknowledged.
    func commit(_ result: SinkMessage, acknowledging delivery: Delivery) async throws {
        if committing {
            try await withCheckedThrowingContinuation { pending.append((result, delivery, $0)) }
            return
        }
        committing = true
        defer { committing = false }
        // This caller's own result goes first; then the batches that gathered while it committed.
        do {
            try await sink.commit([result], [delivery])
        } catch {
            await drain()
            throw error
        }
        await drain()
    }

    /// Commits what is pending, batch after batch, until nothing is.
    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            do {
                try await sink.commit(batch.map(\.0), batch.map(\.1))
                for item in batch { item.2.resume() }
            } catch {
                for item in batch { item.2.resume(throwing: error) }
            }
        }
    }
}
