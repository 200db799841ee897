import RelayCore
import RelayTransport
import Synchronization

/// The runs in flight as the decisions on one SQLite connection left them (each run's record and its attempts,
/// outputs parsed once, and its `for_each` items), kept across transactions: a decision about a run does not read
/// them again at every step.
///
/// True only while every write to `runs`, `steps` and `step_items` goes through this connection's decisions: on
/// SQLite it does (`SQLRunStoreTransaction` is the only code that writes them, and every store on a connection shares
/// the connection's one cache, `cache(for:)`). Each decision brings the cache up to date once it has committed, before
/// the connection is free again (`View.commit`); a rolled-back decision changes nothing in it. A commit by any other
/// connection to the file (another process's `relay` command, a second dispatcher) changes the file's
/// `PRAGMA data_version`, and the next decision then starts from an empty cache (`View.begin`). PostgreSQL, shared
/// between dispatchers, keeps nothing across transactions.
///
/// Bounded: entries are accounted at about what they hold (`Entry.bytes`), `byteCapacity` in all, the oldest run
/// going first; a run's entry goes when the run ends.
final class RunStateCache: Sendable {
    struct Entry: Sendable {
        var record: RunRecord
        var rows: [RunStepRows.Row]
        /// Its `for_each` items, when known (nil: read them).
        var items: RunItems? = nil
        /// Its items are too many to keep (more than a quarter of the cache's bound): the statements answer.
        var itemsUnkept = false
        /// Which commit left the entry as it is: a new number at each (never reused, not even after the cache is
        /// emptied), so that a decision made from an entry outside the connection (`RunSpeculation`) can tell
        /// whether the run has changed since.
        var version: UInt64 = 0

        /// About what the entry holds: its rows and their outputs (parsed, about four times their text); its items
        /// (values parsed, and the look-ups kept beside them: a fixed share per row besides their texts).
        var bytes: Int {
            256 + rows.reduce(0) { $0 + 128 + 5 * ($1.output?.utf8.count ?? 0) + ($1.error?.utf8.count ?? 0) }
                + (items.map(RunStateCache.accounted) ?? 0)
        }
    }

    /// About what a run's items hold, kept (their texts, values parsed, and a fixed share per row for the look-ups).
    static func accounted(_ items: RunItems) -> Int { 4 * items.bytes + 512 * items.rows.count }

    private struct State {
        var entries: OldestFirstStore<Entry>
        /// The connection's `PRAGMA data_version` the entries are true for.
        var dataVersion: Int64?
        /// The last entry version given out.
        var lastVersion: UInt64 = 0
        /// Workflow versions (their hashes) the file has, committed: a run of one of them need not insert its row
        /// again (`View.hasWorkflowVersion`). True because no code deletes rows of `workflow_versions` (a delete on
        /// this connection would not change its data version: whatever prunes them one day must empty this set);
        /// forgotten with the entries when another connection has committed.
        var workflowVersions: Set<String> = []
    }

    private let state: Mutex<State>
    let byteCapacity: Int

    init(byteCapacity: Int = 32 << 20) {
        self.byteCapacity = byteCapacity
        state = Mutex(State(entries: OldestFirstStore(capacity: byteCapacity)))
    }

    /// The cache of `database`'s connection, shared by every store on it.
    static func cache(for database: SQLiteDatabase) -> RunStateCache {
        database.attachment("relay.run-state-cache") { RunStateCache() }
    }

    /// Runs kept (for tests).
    var count: Int { state.withLock { $0.entries.count } }

    /// The accounted bytes kept (for tests).
    var bytes: Int { state.withLock { $0.entries.bytes } }

    /// The run as the last decision about it left it (nil: not kept). Safe from any thread: what a decision made
    /// outside the connection starts from (`RunSpeculation`).
    func entry(_ runID: String) -> Entry? { state.withLock { $0.entries[runID] } }

    /// A decision starts with the connection's data version: when another connection has committed since the
    /// entries were kept, they go.
    fileprivate func begin(dataVersion: Int64?) {
        state.withLock { state in
            guard state.dataVersion != dataVersion || dataVersion == nil else { return }
            state.entries = OldestFirstStore(capacity: byteCapacity)
            state.workflowVersions = []
            state.dataVersion = dataVersion
        }
    }

    /// A committed decision's runs: `kept` as they now are (with the items kept before when `itemsKept`: the
    /// decision did not change them), `gone` removed; everything else first when `clear`.
    fileprivate func apply(
        kept: [(String, Entry, itemsKept: Bool)], gone: [String], clear: Bool, workflowVersions: Set<String>
    ) {
        state.withLock { state in
            state.workflowVersions.formUnion(workflowVersions)
            if clear { state.entries = OldestFirstStore(capacity: byteCapacity) }
            for runID in gone { state.entries.remove(runID) }
            for (runID, entry, itemsKept) in kept {
                var entry = entry
                if itemsKept, let before = state.entries[runID] {
                    entry.items = before.items
                    entry.itemsUnkept = before.itemsUnkept
                }
                state.lastVersion += 1
                entry.version = state.lastVersion
                state.entries.keep(entry, bytes: entry.bytes, for: runID)
            }
        }
    }

    /// One decision's use of the cache: what it reads falls back on the cache, and what it leaves goes into the cache
    /// once it has committed (`commit`, called while the connection is still held).
    final class View: @unchecked Sendable {
        // @unchecked Sendable: one transaction's, used only on the thread that holds the connection.
        private let cache: RunStateCache
        /// True once the transaction has written to `steps` in a way its kept rows do not follow
        /// (`RunStepRows.forgetAll`): from then on the cache may be stale for it, and it is cleared at commit.
        private var cleared = false
        private var rows: RunStepRows?
        private var records: RunRecords?
        private var items: RunItemRows?

        init(_ cache: RunStateCache) { self.cache = cache }

        /// At the start of the decision, holding the write lock.
        func begin(dataVersion: Int64?, rows: RunStepRows, records: RunRecords, items: RunItemRows?) {
            cache.begin(dataVersion: dataVersion)
            self.rows = rows
            self.records = records
            self.items = items
        }

        /// Runs the transaction wrote to without having them (a write the kept rows cannot follow): not taken from
        /// the cache from then on, and left out of it at commit unless read again since.
        private var changedRuns: Set<String> = []

        /// The run last looked up (a decision looks its run's record and attempts up one after the other).
        private var last: (runID: String, entry: Entry?)?

        func entry(_ runID: String) -> Entry? {
            guard !cleared, changedRuns.isEmpty || !changedRuns.contains(runID) else { return nil }
            if let last, last.runID == runID { return last.entry }
            let entry = cache.entry(runID)
            last = (runID, entry)
            return entry
        }

        /// Whether the run is in the cache as it was at `version`, and this transaction has not written to it blind
        /// (the transaction's own reads and writes of it, `RunStepRows` and `RunRecords`, are the caller's to check).
        func holds(_ runID: String, atVersion version: UInt64) -> Bool {
            guard !cleared, !changedRuns.contains(runID) else { return false }
            return cache.entry(runID)?.version == version
        }

        /// The transaction wrote to a run it does not have (`RunStepRows`, `RunRecords`).
        func changed(_ runID: String) {
            changedRuns.insert(runID)
            if last?.runID == runID { last = nil }
        }

        /// Empties the connection's cache at once (a decision found the cache untrue: not expected; the next ones
        /// then read the file).
        func discardAll() {
            cache.state.withLock { state in
                state.entries = OldestFirstStore(capacity: cache.byteCapacity)
                state.workflowVersions = []
            }
            invalidate()
        }

        /// The transaction wrote to `steps` beyond what its kept rows follow.
        func invalidate() {
            cleared = true
            last = nil
        }

        /// The transaction has committed: its runs, as it leaves them, go into the cache (running ones; ended ones
        /// go).
        func commit() {
            guard let rows, let records else { return }
            var kept: [(String, Entry, itemsKept: Bool)] = []
            var gone: [String] = []
            let keptItems = items?.keptRuns ?? []
            for runID in Set(rows.keptRuns).union(records.keptRuns).union(changedRuns).union(keptItems) {
                var record = records.kept(runID)
                var runRows = rows.kept(runID)
                var runItems = items?.kept(runID)
                var itemsUnkept = items?.unkept.contains(runID) == true
                if let kept = runItems, RunStateCache.accounted(kept) > cache.byteCapacity / 4 {
                    runItems = nil
                    itemsUnkept = true
                }
                // (What the cache held is stale once the transaction has cleared it or written to the run blind.)
                let stale = cleared || changedRuns.contains(runID)
                if record == nil || runRows == nil, !stale {
                    let before = cache.entry(runID)
                    record = record ?? before?.record
                    runRows = runRows ?? before?.rows
                }
                if let record, record.status == .running, let runRows {
                    // (Items the transaction did not read stay as the cache has them, taken as it is updated.)
                    let itemsKept = runItems == nil && !itemsUnkept && !stale
                    kept.append(
                        (
                            runID, Entry(record: record, rows: runRows, items: runItems, itemsUnkept: itemsUnkept),
                            itemsKept
                        ))
                } else {
                    gone.append(runID)
                }
            }
            cache.apply(kept: kept, gone: gone, clear: cleared, workflowVersions: workflowVersions)
        }

        /// Workflow versions this transaction has recorded or found in the file: the cache's once it commits.
        private var workflowVersions: Set<String> = []

        /// Whether the file has the workflow version `hash`: committed before this transaction, or written by it.
        func hasWorkflowVersion(_ hash: String) -> Bool {
            workflowVersions.contains(hash) || cache.state.withLock { $0.workflowVersions.contains(hash) }
        }

        /// The transaction has written the workflow version `hash`, or found it written.
        func recordedWorkflowVersion(_ hash: String) { workflowVersions.insert(hash) }
    }
}
