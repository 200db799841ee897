import CSQLite
import Dispatch
import RelayCore
import Synchronization

/// WAL checkpoints off the database's queue. SQLite's own automatic checkpoint runs inside the COMMIT that takes
/// the WAL past 1,000 pages, on the writer's thread: it reads the WAL's pages back, writes them into the database
/// file and syncs it, while every transaction of the process waits behind it on the one database queue (a quarter
/// of a burst's time, measured: docs/benchmarks.md). Here the writing connection's WAL hook only notes the WAL's
/// size; a second connection on its own thread copies the pages back with a PASSIVE checkpoint, which never blocks
/// the writer or its readers. Should that thread fall far behind (the WAL past `fallbackPages`), the writer
/// checkpoints itself, as SQLite would have, so the WAL stays bounded.
final class SQLiteCheckpointer: @unchecked Sendable {
    // @unchecked Sendable: `handle` is only used on `queue` (a serial DispatchQueue); `scheduled` is atomic.
    private var handle: OpaquePointer?
    private let queue = DispatchQueue(label: "relay.sqlite.checkpoint", qos: .utility)
    private let scheduled = Atomic<Bool>(false)
    /// WAL pages after which a checkpoint is started on `queue` (SQLite's automatic threshold).
    let thresholdPages: Int32
    /// WAL pages after which the writer checkpoints itself.
    let fallbackPages: Int32

    init(path: String, thresholdPages: Int32 = 1000, fallbackPages: Int32 = 64_000) throws {
        self.thresholdPages = thresholdPages
        self.fallbackPages = fallbackPages
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw RelayError(.io, "\(path): cannot open the database for checkpoints: \(message)")
        }
        handle = db
    }

    /// Hooks `writer` (the database's connection, on its queue): SQLite's automatic checkpoint is replaced by this
    /// one. The checkpointer must outlive the hook: `unhook` before either is closed.
    func hook(_ writer: OpaquePointer) {
        sqlite3_wal_hook(
            writer,
            { context, db, _, pages in
                guard let context, let db else { return SQLITE_OK }
                Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().walGrew(to: pages, writer: db)
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    func unhook(_ writer: OpaquePointer) {
        sqlite3_wal_hook(writer, nil, nil)
    }

    /// After each commit of the writer, on its queue: `pages` is the WAL's size.
    private func walGrew(to pages: Int32, writer: OpaquePointer) {
        if pages >= fallbackPages {
            // (SQLITE_BUSY when the background checkpoint is running: it will have copied most of it.)
            if sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                SQLiteDatabase.counters.writerCheckpoints.add(1, ordering: .relaxed)
            }
            return
        }
        guard pages >= thresholdPages,
            scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        queue.async {
            if let handle = self.handle,
                sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK
            {
                SQLiteDatabase.counters.checkpoints.add(1, ordering: .relaxed)
            }
            self.scheduled.store(false, ordering: .releasing)
        }
    }

    /// Waits for a checkpoint under way, then closes the connection.
    func close() {
        queue.sync {
            sqlite3_close_v2(handle)
            handle = nil
        }
    }
}
