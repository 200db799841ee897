import RelayTransport
import Synchronization

/// Group commit for job results: results that finish while a commit is under way are committed together in the
/// next one (each with the acknowledgement of its job), so a busy worker needs far fewer transactions than jobs.
///
/// A job hands its result over and is done (`submit`): it does not wait for the commit. The job that finds no
/// commit under way commits (`drain`: its result, and whatever has come meanwhile, batch after batch, until nothing
/// is left), so no task is started per commit; after each batch, every job in it is told how its commit went
/// (`Finished`). A job that waited for its commit was a suspension and a resumption per job, and one more wake-up
/// for the committing task's executor (docs/benchmarks.md, sixteenth round).
final class ResultCommitter: Sendable {
    /// Told once a job's result is committed (nil) or its commit failed.
    protocol Finished: Sendable {
        func committed(_ failure: (any Error)?)
    }

    private struct State {
        /// The results waiting for the next commit, their jobs' deliveries and whom to tell, in the same order
        /// (three arrays handed to the commit as they are, not one of tuples taken apart element by element).
        var pending: [SinkMessage] = []
        var deliveries: [Delivery] = []
        var finished: [any Finished] = []
        var committing = false
    }

    private let sink: MessageSink
    private let state = Mutex(State())

    init(sink: MessageSink) { self.sink = sink }

    /// Queues a job's result for the next commit; true when no commit is under way: the caller then commits
    /// (`drain`).
    func submit(_ result: SinkMessage, acknowledging delivery: Delivery, finished: any Finished) -> Bool {
        state.withLock { state in
            state.pending.append(result)
            state.deliveries.append(delivery)
            state.finished.append(finished)
            if state.committing { return false }
            state.committing = true
            return true
        }
    }

    /// Commits what is pending, batch after batch, until nothing is; tells each batch's jobs how it went.
    func drain() async {
        while true {
            let batch = state.withLock { state -> ([SinkMessage], [Delivery], [any Finished])? in
                if state.pending.isEmpty {
                    state.committing = false
                    return nil
                }
                defer { (state.pending, state.deliveries, state.finished) = ([], [], []) }
                return (state.pending, state.deliveries, state.finished)
            }
            guard let (results, deliveries, finished) = batch else { return }
            var failure: (any Error)?
            do {
                try await sink.commit(results, deliveries)
            } catch {
                failure = error
            }
            for job in finished { job.committed(failure) }
        }
    }
}
