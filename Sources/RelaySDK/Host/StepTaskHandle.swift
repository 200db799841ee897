import Synchronization

/// The task a step runs in, when its caller gives the whole task to that one step (the worker makes one task per
/// job): the step's deadline then cancels that task, and the plugin's code runs in it, instead of in a task of its
/// own that the caller's task would wait for (a task started and a task resumed per step: two hand-overs between
/// threads that a step run one at a time waits for, docs/benchmarks.md).
///
/// The caller makes the handle, starts its task, and `attach`es the task; a cancel that comes before `attach` is
/// kept and done there. `finish` ends what the handle can do: a deadline that fires at the moment the step ends either
/// cancels the task before `finish` returns or not at all, so that the caller, once `finish` has returned, can tell
/// from `Task.isCancelled` whether the task was cancelled and do what follows (committing the result) where
/// cancellation cannot reach it.
public final class StepTaskHandle: Sendable {
    private enum State {
        case waiting(cancelled: Bool)
        case attached(Task<Void, Never>)
        case finished
    }

    private let state = Mutex(State.waiting(cancelled: false))

    public init() {}

    /// The task the step runs in (cancelled at once when the deadline has come already).
    public func attach(_ task: Task<Void, Never>) {
        // Under the lock, as `cancel`: a step that finishes meanwhile is not cancelled after its `finish`.
        state.withLock { state in
            guard case .waiting(let cancelled) = state else { return }
            state = .attached(task)
            if cancelled { task.cancel() }
        }
    }

    /// Cancels the task (the step's deadline has come), unless the step has finished.
    ///
    /// Under the lock, so that `finish` returns only once a cancel under way is done. So the cancellation handlers
    /// the step's code has installed run holding it, on the deadline watch's timer: one that waited for the step's
    /// task to go on would wait for ever (a cancellation handler must not wait, in any task).
    func cancel() {
        state.withLock { state in
            switch state {
            case .waiting: state = .waiting(cancelled: true)
            case .attached(let task): task.cancel()
            case .finished: break
            }
        }
    }

    /// The step has finished: nothing cancels the task from now on.
    func finish() {
        state.withLock { $0 = .finished }
    }
}
