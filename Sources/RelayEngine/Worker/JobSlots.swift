/// A worker's concurrency limit, shared by all its plugin subscriptions: a job starts only once it holds a slot,
/// and gives it back when its plugin has answered (`Worker.slots`); a result waiting for its commit holds one of
/// `Worker.commits`. Waiters are served in arrival order.
actor JobSlots {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = max(1, count) }

    /// Jobs waiting for a slot (for tests).
    var waiting: Int { waiters.count }

    /// Waits for a free slot. Not cancellable: a job already taken off the bus runs once a slot frees (jobs in
    /// flight always finish, so one does).
    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Hands the slot to the longest waiter, or frees it.
    func release() {
        if waiters.isEmpty {
            free += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
