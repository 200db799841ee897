import RelayCore

/// The `for_each` items of one run: every attempt of every item of its steps, as `step_items` has them, with what a
/// decision asks of them at a glance (which attempt a job id is, how many of a step's attempts run, which of its items
/// are pending, lowest index first). Kept by a transaction (`RunItemRows`) and, between transactions, in the
/// connection's cache of runs in flight (`RunStateCache`), so that an item's result is decided without reading the
/// step's items again; and what a speculation of the run answers its item calls from (`RunSpeculation`).
struct RunItems: Sendable {
    struct Row: Sendable {
        var jobID: String
        var stepID: String
        var index: Int
        var attempt: Int
        var status: ItemStatus
        var item: JSONValue
        var input: JSONValue?
        /// The output as stored (JSON text), parsed when the step's outputs are read (`latest`).
        var output: String?
        var error: String?
        /// The attempt's job deadline is in its row (`deadline_seconds`), not in `job_deadlines`.
        var deadlineInRow = false
        /// About what the row holds (its texts as stored; 0 in a speculation, which is never cached).
        var bytes = 0

        func record(runID: String) -> ItemAttemptRecord {
            ItemAttemptRecord(
                jobID: jobID, runID: runID, stepID: stepID, index: index, attempt: attempt, status: status, item: item,
                input: input, output: output.flatMap { try? JSONParser.parse($0) }, error: error)
        }
    }

    /// One step's attempts at a glance.
    private struct Step: Sendable {
        /// How many of its attempts run.
        var running = 0
        /// The positions (in `rows`) of its pending attempts from `pendingStart` on, lowest item index first.
        var pending: [Int] = []
        var pendingStart = 0
        /// The positions of all its attempts, in the order they were written.
        var all: [Int] = []

        /// An attempt written at `position`; `index` gives a position's item index.
        mutating func add(_ position: Int, status: ItemStatus, index: (Int) -> Int) {
            all.append(position)
            switch status {
            case .running: running += 1
            case .pending:
                // Pending attempts come in index order (a step's items as `addItems` writes them, those a resume
                // starts again): kept sorted should one ever come out of order.
                if let last = pending.last, pendingStart < pending.count, index(last) > index(position) {
                    let at = pending[pendingStart...].firstIndex { index($0) > index(position) } ?? pending.count
                    pending.insert(position, at: at)
                } else {
                    pending.append(position)
                }
            default: break
            }
        }

        /// The attempt at `position` went from `old` to `new`.
        mutating func change(_ position: Int, from old: ItemStatus, to new: ItemStatus) {
            if old == .running { running -= 1 }
            if new == .running { running += 1 }
            guard old == .pending, let at = pending[pendingStart...].firstIndex(of: position) else { return }
            if at == pendingStart {
                pendingStart += 1
            } else {
                pending.remove(at: at)
            }
            if pendingStart == pending.count {
                pending = []
                pendingStart = 0
            }
        }
    }

    let runID: String
    private(set) var rows: [Row] = []
    private var positions: [String: Int] = [:]
    private var steps: [String: Step] = [:]
    /// About what the rows hold (for the cache's bound).
    private(set) var bytes = 0

    /// `rows` in `step_items`' order (by step, item index, attempt) or the order they were written.
    init(runID: String, rows: [Row] = []) {
        self.runID = runID
        for row in rows { insert(row) }
    }

    func row(jobID: String) -> Row? { positions[jobID].map { rows[$0] } }

    /// Adds an attempt unless one with its job id is there (as the insert's ON CONFLICT DO NOTHING); whether it did.
    @discardableResult
    mutating func insert(_ row: Row) -> Bool {
        guard positions[row.jobID] == nil else { return false }
        let position = rows.count
        rows.append(row)
        positions[row.jobID] = position
        bytes += row.bytes
        let rows = self.rows
        // (Changed in place: a copy of the step's arrays at each row would make a step's items quadratic.)
        steps[row.stepID, default: Step()].add(position, status: row.status) { rows[$0].index }
        return true
    }

    /// Sets an attempt's status, keeping its step's glance true.
    private mutating func setStatus(_ status: ItemStatus, at position: Int) {
        let old = rows[position].status
        guard old != status else { return }
        rows[position].status = status
        steps[rows[position].stepID, default: Step()].change(position, from: old, to: status)
    }

    /// Starts a pending attempt (as `startItem`'s update); whether it was pending.
    @discardableResult
    mutating func start(jobID: String, input: JSONValue, deadlineInRow: Bool, bytes: Int) -> Bool {
        guard let position = positions[jobID], rows[position].status == .pending else { return false }
        setStatus(.running, at: position)
        rows[position].input = input
        rows[position].deadlineInRow = deadlineInRow
        rows[position].bytes += bytes
        self.bytes += bytes
        return true
    }

    /// Records an attempt's result if its status is one of `statuses`; the attempt as recorded, or nil.
    mutating func finish(jobID: String, from statuses: [ItemStatus], result: StepEvent, output: String?) -> Row? {
        guard let position = positions[jobID], statuses.contains(rows[position].status) else { return nil }
        setStatus(result.status == .ok ? .succeeded : .failed, at: position)
        rows[position].output = output
        rows[position].error = result.error
        let bytes = (output?.utf8.count ?? 0) + (result.error?.utf8.count ?? 0)
        rows[position].bytes += bytes
        self.bytes += bytes
        return rows[position]
    }

    /// Ends the pending attempts of one step (or of every step) with `status` and `error`; how many there were.
    @discardableResult
    mutating func endPending(stepID: String?, status: ItemStatus, error: String) -> Int {
        var ended = 0
        for id in stepID.map({ [$0] }) ?? Array(steps.keys) {
            guard let step = steps[id] else { continue }
            for position in step.pending[step.pendingStart...] {
                setStatus(status, at: position)
                rows[position].error = error
                rows[position].bytes += error.utf8.count
                bytes += error.utf8.count
                ended += 1
            }
        }
        return ended
    }

    /// Which of a step's pending items may start with `concurrency` at most running (as `itemsToStart` answers).
    func slots(stepID: String, concurrency: Int) -> ItemSlots {
        guard let step = steps[stepID] else { return ItemSlots(next: [], morePending: false, anyRunning: false) }
        let pending = step.pending[step.pendingStart...]
        let free = max(0, concurrency - step.running)
        return ItemSlots(
            next: pending.prefix(free).map { rows[$0].record(runID: runID) }, morePending: pending.count > free,
            anyRunning: step.running > 0)
    }

    /// The latest attempt of each of a step's items, by item index (as `latestItems` answers).
    func latest(stepID: String) -> [ItemAttemptRecord] {
        guard let step = steps[stepID] else { return [] }
        var latest: [Int: Int] = [:]
        for position in step.all
        where latest[rows[position].index].map({ rows[$0].attempt < rows[position].attempt }) ?? true {
            latest[rows[position].index] = position
        }
        return latest.sorted { $0.key < $1.key }.map { rows[$0.value].record(runID: runID) }
    }

    /// The run a job id belongs to (`runId/stepId[index]/attempt`, see `JobRoute.jobID`).
    static func runID(ofJob jobID: String) -> String {
        guard let slash = jobID.utf8.firstIndex(of: UInt8(ascii: "/")) else { return jobID }
        return String(jobID[..<slash])
    }
}

extension RunItems.Row {
    /// The row of an attempt just added (no output yet), as `RunStepRows.Row.init(_:deadlineInRow:)` is a step's.
    init(_ item: ItemAttemptRecord, deadlineInRow: Bool = false, bytes: Int = 0) {
        self.init(
            jobID: item.jobID, stepID: item.stepID, index: item.index, attempt: item.attempt, status: item.status,
            item: item.item, input: item.input, output: nil, error: nil, deadlineInRow: deadlineInRow, bytes: bytes)
    }
}

/// The items of the runs one transaction has read (`RunItems`), kept for the rest of it and kept true by its own
/// writes to `step_items`: an item's result does not read the step's items again to know which to start next, or,
/// once every item has ended, to gather their outputs. A run's items are read whole the first time the transaction
/// needs them (from the connection's cache of runs in flight when it has them, `RunStateCache`), and every write to
/// a run's items first reads them, so that what is kept follows every write. Only where runs in flight are kept
/// across transactions (SQLite): on PostgreSQL the statements answer (a step of many items would be read whole at
/// every result).
final class RunItemRows: @unchecked Sendable {
    // @unchecked Sendable: one transaction's, used only on the thread that runs it.
    private var runs: [String: RunItems] = [:]
    /// Runs whose items the statements answer in this transaction (not in flight, or too many to keep).
    private(set) var unkept: Set<String> = []
    private weak var shared: RunStateCache.View?

    init(shared: RunStateCache.View?) {
        self.shared = shared
    }

    /// The run's items: kept, or from the connection's cache, or read by `read` (and kept) when `inFlight` says the
    /// run is running and the cache does not leave its items to the statements (`RunStateCache.Entry.itemsUnkept`);
    /// nil: the statements answer for this run in this transaction (a late result of a run that has ended would
    /// otherwise read all its items for nothing kept).
    func items(of runID: String, inFlight: () throws -> Bool, read: () throws -> [RunItems.Row]) rethrows
        -> RunItems?
    {
        if let items = runs[runID] { return items }
        guard !unkept.contains(runID) else { return nil }
        let entry = shared?.entry(runID)
        if let items = entry?.items {
            runs[runID] = items
            return items
        }
        guard entry?.itemsUnkept != true, try inFlight() else {
            unkept.insert(runID)
            return nil
        }
        let items = RunItems(runID: runID, rows: try read())
        runs[runID] = items
        return items
    }

    /// Changes a run's kept items (read first: `items(of:read:)`).
    func update<T>(_ runID: String, _ change: (inout RunItems) -> T) -> T? {
        guard runs[runID] != nil else { return nil }
        return change(&runs[runID]!)
    }

    /// A statement changed `changed` rows of a run's items: the same change (`change`, which says how many rows it
    /// changed) is made to the kept items, and when the two differ (not expected: said and recovered from) the run is
    /// forgotten (`forget`). Nothing when the run's items are not kept.
    func follow(_ runID: String, changed: Int, _ change: (inout RunItems) -> Int) {
        guard let kept = update(runID, change), kept != changed else { return }
        forget(runID)
    }

    /// A run just created has no items.
    func created(_ runID: String) { runs[runID] = RunItems(runID: runID) }

    /// Whether the transaction has read or written the run's items.
    func has(_ runID: String) -> Bool { runs[runID] != nil }

    /// The runs whose items are kept, and a run's kept items (for the connection's cache).
    var keptRuns: [String] { Array(runs.keys) }
    func kept(_ runID: String) -> RunItems? { runs[runID] }

    /// A write's effect differed from what the kept items said (not expected: said and recovered from): the run is
    /// read again, here and by the connection's cache.
    func forget(_ runID: String) {
        runs[runID] = nil
        shared?.changed(runID)
    }
}
