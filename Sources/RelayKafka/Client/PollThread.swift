import Foundation
import Synchronization

/// A dedicated thread that calls `body` until it returns false or `stop` is called: librdkafka serves delivery
/// reports, rebalances, logs and errors only inside its poll calls, which block, so they never run on the
/// cooperative pool.
final class PollThread: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable (_ stopping: Bool) -> Bool) {
        // The thread keeps this object alive until its loop ends.
        let thread = Thread { [self] in
            while body(stopping.load(ordering: .acquiring)) {}
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to finish without waiting (from `deinit` of an owner that was not closed).
    func requestStop() { stopping.store(true, ordering: .releasing) }

    /// Asks the loop to finish (its body sees `stopping == true` and returns false when it is done), and waits.
    func stop() async {
        stopping.store(true, ordering: .releasing)
        _ = try? await Blocking.run { [finished] in
            finished.wait()
            finished.signal() // later callers return too
        }
    }
}
