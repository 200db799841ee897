import RelayTransport

/// Group commit for job results: results that finish while a commit is under way are committed together in the
/// next one (each with the acknowledgement of its job), so a busy worker needs far fewer transactions than jobs.
/// The caller that finds no commit under way commits itself (its result, and whatever has come meanwhile, until
/// nothing is left): no task is started per commit.
actor ResultCommitter {
    private let sink: MessageSink
    /// The results waiting for the next commit, their jobs' deliveries and their callers, in the same order (three
    /// arrays handed to the commit as they are, not one of tuples taken apart element by element).
    private var pending: [SinkMessage] = []
    private var pendingDeliveries: [Delivery] = []
    private var waiting: [CheckedContinuation<Void, any Error>] = []
    private var committing = false

    init(sink: MessageSink) { self.sink = sink }

    /// Returns once the result is committed and the job acknowledged.
    func commit(_ result: SinkMessage, acknowledging delivery: Delivery) async throws {
        if committing {
            try await withCheckedThrowingContinuation {
                pending.append(result)
                pendingDeliveries.append(delivery)
                waiting.append($0)
            }
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
            let (results, deliveries, callers) = (pending, pendingDeliveries, waiting)
            (pending, pendingDeliveries, waiting) = ([], [], [])
            do {
                try await sink.commit(results, deliveries)
                for caller in callers { caller.resume() }
            } catch {
                for caller in callers { caller.resume(throwing: error) }
            }
        }
    }
}
