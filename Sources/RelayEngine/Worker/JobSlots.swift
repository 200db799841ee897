import Synchronization

/// The worker's concurrency limit, shared by all its plugin subscriptions: a job starts only once it holds a slot,
/// and gives it back when its plugin has answered. Waiters are served in arrival order. A lock, not an actor: taking
/// a free slot or giving one back does not move the caller to another executor (a hop per job otherwise).
final class JobSlots: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: max(1, count))) }

    /// Jobs waiting for a slot (for tests).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Waits for a free slot. Not cancellable: a job already taken off the bus runs once a slot frees (jobs in
    /// flight always finish, so one does).
    func acquire() async {
        if state.withLock({ state in
            guard state.free > 0 else { return false }
            state.free -= 1
            return true
        }) {
            return
        }
        await withCheckedContinuation { continuation in
            // A slot freed between the two locks is taken here rather than waited for.
            let taken = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if taken { continuation.resume() }
        }
    }

    /// Hands the slot to the longest waiter, or frees it.
    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }
}

/// The jobs a subscription has started and not finished: waited for before the worker stops, with the first
/// error a job's commit met. That error also stops the subscription's intake (`stopIntakeOnFailure`): a worker
/// whose results cannot be committed takes no more jobs.
final class JobsInFlight: Sendable {
    private struct State {
        var running = 0
        var failure: (any Error)?
        var waiter: CheckedContinuation<Void, Never>?
        var intake: Task<Void, any Error>?
    }

    private let state = Mutex(State())

    func started() { state.withLock { $0.running += 1 } }

    /// The first error a job's commit met, if any.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// Cancels `intake` at the first failed commit (at once if one has failed already).
    func stopIntakeOnFailure(_ intake: Task<Void, any Error>) {
        let failed = state.withLock { state -> Bool in
            state.intake = intake
            return state.failure != nil
        }
        if failed { intake.cancel() }
    }

    func finished(_ failure: (any Error)?) {
        let (waiter, intake) = state.withLock {
            state -> (CheckedContinuation<Void, Never>?, Task<Void, any Error>?) in
            state.running -= 1
            var stop: Task<Void, any Error>?
            if state.failure == nil, let failure {
                state.failure = failure
                stop = state.intake
            }
            guard state.running == 0 else { return (nil, stop) }
            defer { state.waiter = nil }
            return (state.waiter, stop)
        }
        intake?.cancel()
        waiter?.resume()
    }

    /// Returns once every job started has finished: the first error one met, if any.
    func allFinished() async -> (any Error)? {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.running == 0 { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
        return failure
    }
}
