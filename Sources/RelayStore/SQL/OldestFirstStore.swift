/// Values by run id, at most `capacity` bytes of them as their keeper accounts them, the oldest dropped first: the
/// storage of the caches of runs in flight (`TriggerEventCache`, `RunStateCache`). Not safe to share: each cache keeps
/// one under its lock.
struct OldestFirstStore<Value> {
    private var values: [String: (value: Value, bytes: Int)] = [:]
    private(set) var bytes = 0
    /// Keys in the order they came in (some may have gone already), from `start` on.
    private var order: [String] = []
    private var start = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(key: String) -> Value? { values[key]?.value }

    var count: Int { values.count }

    /// Keys the order list holds (for tests: it does not grow with every key ever kept).
    var tracked: Int { order.count - start }

    /// Keeps `value` for `key` (a key kept already keeps its place in the order), then drops the oldest values while
    /// there are more than `capacity` bytes.
    mutating func keep(_ value: Value, bytes: Int, for key: String) {
        if let old = values.updateValue((value, bytes), forKey: key) {
            self.bytes -= old.bytes
        } else {
            order.append(key)
        }
        self.bytes += bytes
        while self.bytes > capacity, start < order.count {
            remove(order[start])
            start += 1
        }
        // Removed keys stay in the order list: it is compacted once it is twice what is kept.
        if order.count - start > 2 * values.count + 1024 {
            order = order[start...].filter { values[$0] != nil }
            start = 0
        }
    }

    mutating func remove(_ key: String) {
        if let gone = values.removeValue(forKey: key) { bytes -= gone.bytes }
    }
}
