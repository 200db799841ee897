import Synchronization

/// Cancels work at its deadline with one timer for all of it: what is watched is a dictionary entry (added and
/// removed in O(1)), and one timer task sleeps until the earliest deadline it knows of. When the timer fires it
/// cancels what is due and sleeps again until the earliest deadline left (a scan of what is watched: the steps in
/// flight). Work that ends before its deadline (nearly all of it) costs two dictionary operations, not a task and a
/// timer of its own.
///
/// The timer is started again only when something is watched with an earlier deadline than the one it sleeps until
/// (a shorter timeout than any in flight).
final class DeadlineWatch: Sendable {
    static let shared = DeadlineWatch()

    /// What is watched; a watch's `fired` tells whether it was cancelled by its deadline.
    final class Watch: Sendable {
        let deadline: ContinuousClock.Instant
        let cancel: @Sendable () -> Void
        let fired = Atomic<Bool>(false)
        /// Whether its deadline cancelled it.
        var hasFired: Bool { fired.load(ordering: .sequentiallyConsistent) }
        init(deadline: ContinuousClock.Instant, cancel: @escaping @Sendable () -> Void) {
            self.deadline = deadline
            self.cancel = cancel
        }
    }

    private struct State: ~Copyable {
        var watched: [ObjectIdentifier: Watch] = [:]
        /// The deadline the timer sleeps until, the timer, and its number (a replaced timer's is no longer it).
        var armed: (at: ContinuousClock.Instant, timer: Task<Void, Never>, number: Int)?
        var timers = 0
    }

    private let state = Mutex(State())

    /// Watches `cancel` until `deadline`; `unwatch` it when the work ends.
    func watch(until deadline: ContinuousClock.Instant, cancel: @escaping @Sendable () -> Void) -> Watch {
        let watch = Watch(deadline: deadline, cancel: cancel)
        let replaced = state.withLock { state -> Task<Void, Never>? in
            state.watched[ObjectIdentifier(watch)] = watch
            if let armed = state.armed, armed.at <= deadline { return nil }
            let previous = state.armed?.timer
            state.timers += 1
            state.armed = (deadline, timer(until: deadline, number: state.timers), state.timers)
            return previous
        }
        replaced?.cancel()
        return watch
    }

    func unwatch(_ watch: Watch) {
        _ = state.withLock { $0.watched.removeValue(forKey: ObjectIdentifier(watch)) }
    }

    /// How many are watched (for tests).
    var count: Int { state.withLock { $0.watched.count } }

    private func timer(until deadline: ContinuousClock.Instant, number: Int) -> Task<Void, Never> {
        Task { [weak self] in
            var next = deadline
            while true {
                do {
                    try await Task.sleep(until: next, clock: .continuous)
                } catch {
                    return // replaced by a timer for an earlier deadline
                }
                guard let self, let following = self.fire(timer: number) else { return }
                next = following
            }
        }
    }

    /// Cancels what is due; returns the deadline for timer `number` to sleep until next (nil: it ends, because
    /// nothing is watched or another timer has replaced it).
    private func fire(timer number: Int) -> ContinuousClock.Instant? {
        let now = ContinuousClock.now
        let (due, next) = state.withLock { state -> ([Watch], ContinuousClock.Instant?) in
            var due: [Watch] = []
            var next: ContinuousClock.Instant?
            for (key, watch) in state.watched {
                if watch.deadline <= now {
                    due.append(watch)
                    state.watched[key] = nil
                } else if next.map({ watch.deadline < $0 }) ?? true {
                    next = watch.deadline
                }
            }
            guard let armed = state.armed, armed.number == number else { return (due, nil) }
            state.armed = next.map { ($0, armed.timer, number) }
            return (due, next)
        }
        for watch in due {
            watch.fired.store(true, ordering: .sequentiallyConsistent)
            watch.cancel()
        }
        return next
    }
}
