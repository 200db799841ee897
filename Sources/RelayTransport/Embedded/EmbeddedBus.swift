import DequeModule
import Foundation
import RelayCore
import Synchronization

/// The bus on one SQLite file: topics are rows ordered by a global sequence; each group keeps its committed
/// position per topic. A group consumes a topic in order; several deliveries may be in flight at once; the group's
/// position moves to the end of the contiguous prefix of acknowledged deliveries, in the same transaction as
/// whatever the acknowledging step published. After a crash, consumption resumes at the committed position: what
/// was in flight is delivered again. A delivery acknowledged beyond the prefix (the deliveries before it still in
/// flight) is recorded as such (`bus_acks`) in its transaction, and is not delivered again after a crash: its
/// output was committed with its acknowledgement, so a worker never runs a job again to publish a second result.
///
/// One process owns a group's consumption at a time (the pipeline runs each consumer group once per process);
/// other processes may publish to the same file.
public final class EmbeddedBus: Transport, Sendable {
    public let database: SQLiteDatabase
    /// How long an idle subscription waits before looking for new messages (also woken at once by local
    /// publishes).
    let pollInterval: Duration
    private let signal = PublishSignal()
    private let retention: Duration
    /// What this process publishes, handed to its own subscriptions without a read of the table.
    let handOff = LocalHandOff()
    /// Reads of the table by subscriptions (for tests: what the hand-off saves).
    let tableReads = Atomic<Int>(0)

    public init(
        database: SQLiteDatabase, pollInterval: Duration = .milliseconds(200), retention: Duration = .seconds(7 * 86400)
    ) throws {
        self.database = database
        self.pollInterval = pollInterval
        self.retention = retention
        try database.syncTransaction { db in
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS bus_messages (
                    seq INTEGER PRIMARY KEY,
                    topic TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL,
                    created_at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS bus_messages_topic ON bus_messages(topic, seq);
                CREATE TABLE IF NOT EXISTS bus_offsets (
                    grp TEXT NOT NULL, topic TEXT NOT NULL, committed INTEGER NOT NULL, PRIMARY KEY (grp, topic));
                CREATE TABLE IF NOT EXISTS bus_acks (
                    grp TEXT NOT NULL, topic TEXT NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, offset))
                    WITHOUT ROWID;
                """)
        }
    }

    public func publish(_ messages: [BusMessage]) async throws {
        try await publish(messages, acknowledging: [])
    }

    public func publish(_ messages: [BusMessage], acknowledging deliveries: [Delivery]) async throws {
        try await transaction(acknowledging: deliveries) { _ in ((), messages) }
    }

    /// Runs `body` in one transaction that also publishes what it returns and acknowledges `deliveries`: a
    /// pipeline step's state changes, the messages they cause and the consumption of their input commit together.
    /// `afterCommit` runs once it has committed, still holding the connection.
    public func transaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (SQLiteConnection) throws -> (T, [BusMessage]),
        afterCommit: (@Sendable () -> Void)? = nil
    ) async throws -> T {
        let acknowledged = acknowledgements(of: deliveries)
        let handOff = self.handOff
        let signal = self.signal
        return try await database.transaction(
            { db -> Committed<T> in
                // Another connection's commit since this connection's last transaction changes it: the hand-off
                // then sends subscriptions back to the table.
                let dataVersion = try db.query("PRAGMA data_version").first?.first?.int
                let (value, messages) = try body(db)
                let inserted = try EmbeddedBus.insert(messages, into: db)
                // Each subscription's prefix moves once per transaction, to where the last of its acknowledgements
                // took it (a batch of a hundred in order is one offset written, not a hundred).
                for subscription in acknowledged {
                    var committed: Int64?
                    var releasesRecorded = false
                    for offset in subscription.offsets {
                        guard let ack = subscription.tracker.acknowledge(offset) else { continue }
                        if ack.beyondPrefix {
                            try db.query(
                                "INSERT OR IGNORE INTO bus_acks (grp, topic, offset) VALUES (?, ?, ?)",
                                [.text(subscription.group), .text(subscription.topic), .int(offset)])
                        }
                        if let moved = ack.committed {
                            committed = max(committed ?? moved, moved)
                            releasesRecorded = releasesRecorded || ack.releasesRecorded
                        }
                    }
                    guard let committed else { continue }
                    try EmbeddedBus.commit(
                        group: subscription.group, topic: subscription.topic, offset: committed, in: db)
                    // Only when some recorded acknowledgement is now inside the prefix: in-order consumption
                    // writes nothing to bus_acks.
                    if releasesRecorded {
                        try db.query(
                            "DELETE FROM bus_acks WHERE grp = ? AND topic = ? AND offset <= ?",
                            [.text(subscription.group), .text(subscription.topic), .int(committed)])
                    }
                }
                return Committed(value: value, dataVersion: dataVersion, inserted: inserted)
            },
            afterCommit: { committed in
                afterCommit?()
                // On the database queue, in commit order, before anything queued after the transaction.
                handOff.committed(dataVersion: committed.dataVersion, inserted: committed.inserted)
                if !committed.inserted.isEmpty { signal.notify(topics: Set(committed.inserted.map(\.message.topic))) }
            }
        ).value
    }

    /// The acknowledgements of one subscription (a group's of a topic) in a transaction: its tracker, and the
    /// offsets in the order they were given.
    struct Acknowledged {
        var tracker: AckTracker
        var group: String
        var topic: String
        var offsets: [Int64]
    }

    /// `deliveries`' offsets by subscription, each subscription's tracker looked up once (a batch's deliveries are
    /// mostly of one or two subscriptions); those of a subscription no longer tracked are left out (a closed one's).
    private func acknowledgements(of deliveries: [Delivery]) -> [Acknowledged] {
        var acknowledged: [Acknowledged] = []
        var untracked: [(group: String, topic: String)] = []
        for delivery in deliveries {
            let group = delivery.group
            let topic = delivery.message.topic
            if let index = acknowledged.lastIndex(where: { $0.group == group && $0.topic == topic }) {
                acknowledged[index].offsets.append(delivery.offset)
            } else if !untracked.contains(where: { $0.group == group && $0.topic == topic }) {
                if let tracker = trackerFor(delivery) {
                    acknowledged.append(
                        Acknowledged(tracker: tracker, group: group, topic: topic, offsets: [delivery.offset]))
                } else {
                    untracked.append((group, topic))
                }
            }
        }
        return acknowledged
    }

    /// What a transaction of the bus committed.
    struct Committed<T: Sendable>: Sendable {
        var value: T
        var dataVersion: Int64?
        var inserted: [(offset: Int64, message: BusMessage)]
    }

    /// Inserts messages inside a transaction; returns them with their offsets.
    static func insert(_ messages: [BusMessage], into db: SQLiteConnection) throws -> [(
        offset: Int64, message: BusMessage
    )] {
        let now = Date().timeIntervalSince1970
        var inserted: [(offset: Int64, message: BusMessage)] = []
        inserted.reserveCapacity(messages.count)
        for message in messages {
            try db.query(insertSQL, MessageRow.values(message, createdAt: now))
            inserted.append((db.lastInsertRowID, message))
        }
        return inserted
    }

    /// (Made once: the statement cache finds a statement by its text.)
    private static let insertSQL = "INSERT INTO bus_messages (\(MessageRow.columns), created_at) VALUES (?, ?, ?, ?, ?)"

    static func commit(group: String, topic: String, offset: Int64, in db: SQLiteConnection) throws {
        try db.query(
            "INSERT INTO bus_offsets (grp, topic, committed) VALUES (?, ?, ?) ON CONFLICT(grp, topic) DO "
                + "UPDATE SET committed = MAX(committed, excluded.committed)",
            [.text(group), .text(topic), .int(offset)])
    }

    /// Wakes local subscriptions after a publish made outside `publish` (inside another transaction).
    public func notifyPublished() { signal.notify() }

    public func subscribe(topic: String, group: String) async throws -> any BusSubscription {
        let (committed, acknowledged) = try await database.read { db -> (Int64, Set<Int64>) in
            let committed =
                try db.query(
                    "SELECT committed FROM bus_offsets WHERE grp = ? AND topic = ?", [.text(group), .text(topic)]
                ).first?.first?.int ?? 0
            // Acknowledged beyond the prefix before a crash: not delivered again.
            let acknowledged = try db.query(
                "SELECT offset FROM bus_acks WHERE grp = ? AND topic = ? AND offset > ?",
                [.text(group), .text(topic), .int(committed)]
            ).compactMap { $0[0].int }
            return (committed, Set(acknowledged))
        }
        let subscription = EmbeddedSubscription(
            bus: self, topic: topic, group: group, committed: committed, acknowledged: acknowledged,
            handOffID: handOff.register(topic))
        trackers.withLock { $0["\(group)\u{0}\(topic)"] = subscription.tracker }
        return subscription
    }

    /// Deletes messages older than the retention that every group has consumed.
    public func applyRetention() async throws {
        let cutoff = Date().timeIntervalSince1970 - Double(retention.components.seconds)
        try await database.transaction { db in
            try db.query(
                """
                DELETE FROM bus_messages WHERE created_at < ? AND seq <= COALESCE(
                    (SELECT MIN(committed) FROM bus_offsets WHERE bus_offsets.topic = bus_messages.topic), 0)
                    AND seq < (SELECT MAX(seq) FROM bus_messages)
                """, [.double(cutoff)])
        }
    }

    /// Whether the database answers a query on the bus's tables (for `/readyz`).
    public func isReachable() async -> Bool {
        (try? await database.read { db in try db.query("SELECT EXISTS (SELECT 1 FROM bus_offsets)").count }) == 1
    }

    /// Per group and topic, the messages past the group's committed position: for every position in the file, and
    /// every subscription of this process (from the start of its topic when it has committed nothing yet). Sorted.
    public func backlog() async throws -> [ConsumerBacklog] {
        let subscribed = trackers.withLock { Array($0.keys) }.compactMap { key -> (String, String)? in
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
        return try await database.read { db in
            var committed: [ConsumerBacklog: Int64] = [:]
            for row in try db.query("SELECT grp, topic, committed FROM bus_offsets") {
                committed[ConsumerBacklog(group: row[0].text ?? "", topic: row[1].text ?? "", messages: 0)] =
                    row[2].int ?? 0
            }
            for (group, topic) in subscribed {
                let key = ConsumerBacklog(group: group, topic: topic, messages: 0)
                if committed[key] == nil { committed[key] = 0 }
            }
            var backlog: [ConsumerBacklog] = []
            for (key, position) in committed {
                let count =
                    try db.query(
                        "SELECT COUNT(*) FROM bus_messages WHERE topic = ? AND seq > ?",
                        [.text(key.topic), .int(position)]
                    ).first?.first?.int ?? 0
                backlog.append(ConsumerBacklog(group: key.group, topic: key.topic, messages: count))
            }
            return backlog.sorted { ($0.group, $0.topic) < ($1.group, $1.topic) }
        }
    }

    // MARK: - Internals

    private let trackers = Mutex<[String: AckTracker]>([:])

    private func trackerFor(_ delivery: Delivery) -> AckTracker? {
        trackers.withLock { $0["\(delivery.group)\u{0}\(delivery.message.topic)"] }
    }

    /// Messages of a topic after a position, for inspection (the dead-letter topic, tests).
    public func fetch(topic: String, after seq: Int64, limit: Int) async throws -> [Delivery] {
        try await fetchWithEpoch(topic: topic, after: seq, limit: limit).deliveries
    }

    /// Messages of a topic after a position, and the hand-off's epoch when they were read.
    func fetchWithEpoch(topic: String, after seq: Int64, limit: Int) async throws -> (
        deliveries: [Delivery], epoch: UInt64
    ) {
        let handOff = self.handOff
        tableReads.add(1, ordering: .relaxed)
        let (rows, epoch) = try await database.read { db in
            (
                try db.query(
                    "SELECT seq, \(MessageRow.columns) FROM bus_messages WHERE topic = ? AND seq > ? "
                        + "ORDER BY seq LIMIT ?",
                    [.text(topic), .int(seq), .int(Int64(limit))]), handOff.epoch
            )
        }
        return (
            rows.map { row in Delivery(message: MessageRow.message(row, at: 1), offset: row[0].int ?? 0, group: "") },
            epoch
        )
    }

    /// How many local publishes `topic` has seen (a counter to hand to `waitForPublish`).
    func publishes(of topic: String) -> UInt64 { signal.generation(of: topic) }

    /// Returns at once if `topic` has seen a local publish since `publishes(of:)` returned `seen`; else after the
    /// next one or `timeout`, whichever is first.
    func waitForPublish(topic: String, after seen: UInt64, timeout: Duration) async {
        await signal.wait(topic: topic, after: seen, timeout: timeout)
    }
}

/// Tracks in-flight offsets of one group member; acknowledging returns the new committed position when the
/// contiguous prefix grows.
final class AckTracker: Sendable {
    private struct State {
        var committed: Int64
        var inFlight: Set<Int64> = []
        var acknowledged: Set<Int64> = []
        /// In delivery order; acknowledged from the front (a deque: no move of the rest per acknowledgement).
        var delivered: Deque<Int64> = []
        /// Offsets recorded in `bus_acks` (acknowledged beyond the prefix) that the prefix has not passed yet.
        var recorded: Set<Int64> = []
    }

    /// What an acknowledgement changed.
    struct Acknowledgement {
        /// The new committed offset, if it moved.
        var committed: Int64?
        /// The offset stays acknowledged beyond the prefix: record it.
        var beyondPrefix: Bool
        /// The prefix passed offsets recorded before: delete their records.
        var releasesRecorded: Bool
    }

    private let state: Mutex<State>

    /// `recorded`: offsets acknowledged beyond the committed position before (they are never delivered).
    init(committed: Int64, recorded: Set<Int64> = []) {
        state = Mutex(State(committed: committed, recorded: recorded))
    }

    func delivered(_ offset: Int64) {
        state.withLock {
            $0.inFlight.insert(offset)
            $0.delivered.append(offset)
        }
    }

    /// What acknowledging `offset` changed; nil when it was not in flight.
    func acknowledge(_ offset: Int64) -> Acknowledgement? {
        state.withLock { state in
            guard state.inFlight.remove(offset) != nil else { return nil }
            state.acknowledged.insert(offset)
            var moved = false
            // Delivered offsets are increasing; commit through the first one still in flight.
            while let first = state.delivered.first, state.acknowledged.contains(first) {
                state.acknowledged.remove(first)
                state.delivered.removeFirst()
                state.committed = first
                moved = true
            }
            let beyond = state.acknowledged.contains(offset)
            if beyond { state.recorded.insert(offset) }
            var releases = false
            if moved, !state.recorded.isEmpty {
                let passed = state.recorded.filter { $0 <= state.committed }
                releases = !passed.isEmpty
                state.recorded.subtract(passed)
            }
            return Acknowledgement(
                committed: moved ? state.committed : nil, beyondPrefix: beyond, releasesRecorded: releases)
        }
    }

    var inFlightCount: Int { state.withLock { $0.inFlight.count } }
}

/// One consumer of a topic in a group.
final class EmbeddedSubscription: BusSubscription, Sendable {
    let bus: EmbeddedBus
    let topic: String
    let group: String
    let tracker: AckTracker
    /// `buffer`: what was read or handed over and not yet taken, first out first (a `Deque`: an array's
    /// `removeFirst` moved every message behind it, a burst's worker taking thousands one by one).
    private let position: Mutex<(cursor: Int64, buffer: Deque<Delivery>, closed: Bool)>
    /// Its id in the hand-off (`LocalHandOff`), which knows the epoch it is synced at: it has every message of its
    /// topic committed by then; it is not synced (it reads the table) at first, after another connection's commit,
    /// and after a wait that no local publish ended, so that a poll finds what other processes published.
    private let handOffID: Int
    /// Offsets acknowledged beyond the committed position before this subscription: passed over.
    private let acknowledged: Set<Int64>

    init(
        bus: EmbeddedBus, topic: String, group: String, committed: Int64, acknowledged: Set<Int64> = [],
        handOffID: Int
    ) {
        self.bus = bus
        self.topic = topic
        self.group = group
        self.acknowledged = acknowledged
        self.handOffID = handOffID
        self.tracker = AckTracker(committed: committed, recorded: acknowledged)
        self.position = Mutex((committed, [], false))
    }

    func next() async throws -> Delivery? {
        while true {
            let (ready, cursor, closed) = position.withLock { state -> (Delivery?, Int64, Bool) in
                if state.closed { return (nil, state.cursor, true) }
                if !state.buffer.isEmpty { return (state.buffer.removeFirst(), state.cursor, false) }
                return (nil, state.cursor, false)
            }
            if closed || Task.isCancelled { return nil }
            if var delivery = ready {
                delivery.group = group
                tracker.delivered(delivery.offset)
                return delivery
            }
            // Read before looking: a publish that commits after the look moves it, and the wait below returns at
            // once instead of sleeping a poll interval with a message waiting.
            let seen = bus.publishes(of: topic)
            if let handed = bus.handOff.take(handOffID, topic: topic) {
                if !handed.isEmpty {
                    add(handed.filter { $0.offset > cursor })
                    continue
                }
                // Nothing new here: wait for a local publish; after a wait no local publish ended, read the table
                // (other processes publish too).
                await bus.waitForPublish(topic: topic, after: seen, timeout: bus.pollInterval)
                if bus.publishes(of: topic) == seen { bus.handOff.synced(handOffID, topic: topic, at: nil) }
                continue
            }
            let limit = 256
            let (batch, epoch) = try await bus.fetchWithEpoch(topic: topic, after: cursor, limit: limit)
            if batch.count < limit {
                bus.handOff.synced(handOffID, topic: topic, at: epoch)
            } else if let last = batch.last, bus.handOff.resync(handOffID, topic: topic, after: last.offset) {
                // A full batch, and what follows it is kept: taken from there next.
            } else {
                // A full batch may have more behind it: read again rather than take what was kept.
                bus.handOff.synced(handOffID, topic: topic, at: nil)
            }
            add(batch)
        }
    }

    /// Buffers what was read or handed over (past what was acknowledged before this subscription).
    private func add(_ batch: [Delivery]) {
        guard let last = batch.last else { return }
        let acknowledged = self.acknowledged
        position.withLock { state in
            state.buffer.append(
                contentsOf: acknowledged.isEmpty ? batch : batch.filter { !acknowledged.contains($0.offset) })
            state.cursor = last.offset
        }
    }

    func nextBatch(maximum: Int) async throws -> [Delivery] {
        guard let first = try await next() else { return [] }
        var batch = [first]
        let more = position.withLock { state -> [Delivery] in
            let count = min(maximum - 1, state.buffer.count)
            defer { state.buffer.removeFirst(count) }
            return Array(state.buffer.prefix(count))
        }
        for var delivery in more {
            delivery.group = group
            tracker.delivered(delivery.offset)
            batch.append(delivery)
        }
        return batch
    }

    func acknowledge(_ delivery: Delivery) async throws {
        try await bus.publish([], acknowledging: [delivery])
    }

    func close() async {
        position.withLock { $0.closed = true }
        bus.handOff.unregister(handOffID, topic: topic)
        bus.notifyPublished()
    }
}

/// Wakes waiters when something is published in this process: only the waiters of the topics published (an idle
/// subscription does not read the database at every publish of another topic), or all of them. Counts publishes
/// per topic, so that a waiter that looked at the table before a publish it did not see does not wait for the
/// next one. Timeouts are kept by one timer task for all waiters (sleeping until the earliest deadline), not a
/// task per wait: a wait that a publish ends costs no timer.
final class PublishSignal: Sendable {
    private struct Waiter {
        var topic: String
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var next = 0
        var list: [Int: Waiter] = [:]
        /// Publishes per topic, and notifications of all topics.
        var generations: [String: UInt64] = [:]
        var all: UInt64 = 0
        /// The deadline the timer task sleeps until, and its id (nil: no timer task).
        var timer: (deadline: ContinuousClock.Instant, id: Int)?

        func generation(of topic: String) -> UInt64 { all &+ (generations[topic] ?? 0) }
    }

    private let state = Mutex(State())

    /// Publishes of `topic` seen so far (and notifications of all topics).
    func generation(of topic: String) -> UInt64 { state.withLock { $0.generation(of: topic) } }

    /// Wakes the waiters of `topics`, or every waiter when `topics` is nil.
    func notify(topics: Set<String>? = nil) {
        let toWake = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let topics {
                for topic in topics { state.generations[topic, default: 0] &+= 1 }
            } else {
                state.all &+= 1
            }
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.list where topics?.contains(waiter.topic) ?? true {
                woken.append(waiter.continuation)
                state.list[id] = nil
            }
            return woken
        }
        for waiter in toWake { waiter.resume() }
    }

    /// Returns after a publish on `topic` (or a notify of all) or the timeout, whichever is first; at once when
    /// there has been one since `generation(of:)` returned `seen`.
    func wait(topic: String, after seen: UInt64, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        await withCheckedContinuation { continuation in
            let timer = state.withLock { state -> Int?? in
                guard state.generation(of: topic) == seen else { return nil }
                state.next += 1
                state.list[state.next] = Waiter(topic: topic, deadline: deadline, continuation: continuation)
                // A timer task runs already, to an earlier deadline: it wakes this waiter too, in time.
                if let timer = state.timer, timer.deadline <= deadline { return .some(nil) }
                state.timer = (deadline, state.next)
                return .some(state.next)
            }
            switch timer {
            case .none: continuation.resume()
            case .some(.none): break
            case .some(.some(let id)): Task { await self.runTimer(id: id, until: deadline) }
            }
        }
    }

    /// Sleeps until `deadline`, wakes the waiters whose deadline has passed, and goes on to the next deadline;
    /// ends when no waiter is left, or when a timer with an earlier deadline has replaced it.
    private func runTimer(id: Int, until deadline: ContinuousClock.Instant) async {
        var deadline = deadline
        while true {
            try? await Task.sleep(until: deadline, clock: .continuous)
            let (expired, next) = state.withLock {
                state -> ([CheckedContinuation<Void, Never>], ContinuousClock.Instant?) in
                guard state.timer?.id == id else { return ([], nil) }
                let now = ContinuousClock.now
                var expired: [CheckedContinuation<Void, Never>] = []
                var next: ContinuousClock.Instant?
                for (key, waiter) in state.list {
                    if waiter.deadline <= now {
                        expired.append(waiter.continuation)
                        state.list[key] = nil
                    } else if next == nil || waiter.deadline < next! {
                        next = waiter.deadline
                    }
                }
                state.timer = next.map { ($0, id) }
                return (expired, next)
            }
            for waiter in expired { waiter.resume() }
            guard let next else { return }
            deadline = next
        }
    }
}
