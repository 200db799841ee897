import CSQLite
import Dispatch
import RelayCore
import Synchronization

/// WAL checkpoints off the database's queue. SQLite's own automatic checkpoint runs inside the COMMIT that takes
/// the WAL past 1,000 pages, on the writer's thread: it reads the WAL's pages back, writes them into the database
/// file and syncs it, while every transaction of the process waits behind it on the one database queue (a quarter
/// of a burst's time, measured: docs/benchmarks.md). Here the writing connection's WAL hook only notes the WAL's
/// size; a second connection on its own thread copies the pages back with a PASSIVE checkpoint, which never blocks
/// the writer or its readers.
///
/// A WAL file starts over from its beginning only when a write transaction begins with every frame in it copied
/// back; a checkpoint on another thread never quite gets there while the writer keeps appending (each pass takes a
/// couple of syncs, about a millisecond each here). So once the WAL is past `restartPages`, the thread runs pass
/// after pass, and once it has copied all but `restartRemainder` frames the writer runs a PASSIVE checkpoint
/// itself, between two transactions: it copies those last frames, and the next transaction starts the WAL over.
/// The WAL stays near `restartPages` (16 MiB of 4 KiB pages; at most four times that, when the thread cannot catch
/// up and the writer copies the rest itself), and the writer copies a few frames per `restartPages` instead of
/// every frame per `thresholdPages`.
final class SQLiteCheckpointer: @unchecked Sendable {
    // @unchecked Sendable: `handle` is only used on `queue` (a serial DispatchQueue); `nextAt` and `generation` only
    // in the WAL hook (the writer holds its connection's lock); `writerShouldCheckpoint` is set before any commit.
    private var handle: OpaquePointer?
    private let queue = DispatchQueue(label: "relay.sqlite.checkpoint", qos: .utility)
    private let scheduled = Atomic<Bool>(false)
    /// Passes of the checkpoint thread that copied frames back (a connection not in WAL mode reports -1 frames).
    let passes = Atomic<Int>(0)
    /// The WAL's size at which the next checkpoint starts: `thresholdPages` more than at the last one's start, so
    /// that checkpoints do not run back to back while the WAL waits to start over. Only while holding the writer's
    /// connection.
    private var nextAt: Int32
    /// WAL pages after which a checkpoint is started on `queue` (SQLite's automatic threshold).
    let thresholdPages: Int32
    /// WAL pages after which the writer checkpoints itself, so that the WAL starts over: once the checkpoint
    /// thread has copied all but `restartRemainder` frames.
    let restartPages: Int32
    let restartRemainder: Int32 = 256

    init(path: String, thresholdPages: Int32 = 1000, restartPages: Int32 = 4000) throws {
        self.thresholdPages = thresholdPages
        self.restartPages = restartPages
        self.nextAt = thresholdPages
        // A connection finds the WAL when it first reads the file; until then a checkpoint does nothing (and says
        // SQLITE_OK, with -1 frames).
        let db = try SQLiteDatabase.open(
            path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, purpose: " for checkpoints",
            firstStatement: "PRAGMA journal_mode=WAL")
        handle = db
    }

    /// Hooks `writer` (the database's connection): SQLite's automatic checkpoint is replaced by this one. When the
    /// writer should copy the last frames itself, `writerShouldCheckpoint` is called (with whether it must wait for
    /// the checkpoint thread first): the database runs `writerCheckpoint` where waiting is allowed. The checkpointer
    /// must outlive the hook: `unhook` before either is closed.
    func hook(_ writer: OpaquePointer, writerShouldCheckpoint: @escaping @Sendable (Bool) -> Void) {
        self.writerShouldCheckpoint = writerShouldCheckpoint
        sqlite3_wal_hook(
            writer,
            { context, _, _, pages in
                guard let context else { return SQLITE_OK }
                Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().walGrew(to: pages)
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Set once by `hook`, before any commit.
    private var writerShouldCheckpoint: (@Sendable (Bool) -> Void)?

    func unhook(_ writer: OpaquePointer) {
        sqlite3_wal_hook(writer, nil, nil)
    }

    /// After each commit of the writer, holding its connection: `pages` is the WAL's size.
    private func walGrew(to pages: Int32) {
        if pages < nextAt - thresholdPages {
            // The WAL started over since the last checkpoint began: count from its start again.
            nextAt = thresholdPages
            generation &+= 1
        }
        if pages >= restartPages {
            // The writer copies the last frames itself once the checkpoint thread has copied all but a few (or
            // the WAL has grown far past the mark); until then the thread goes on, pass after pass.
            let (passGeneration, copied) = Self.unpack(backfilled.load(ordering: .acquiring))
            let left = passGeneration == generation ? pages - copied : pages
            let farBehind = pages >= 4 * restartPages
            if (0...restartRemainder).contains(left) || farBehind {
                writerShouldCheckpoint?(farBehind)
                return
            }
        } else if pages < nextAt {
            return
        }
        guard scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        nextAt = pages + thresholdPages
        let generation = self.generation
        queue.async {
            var log: Int32 = 0
            var copied: Int32 = 0
            if let handle = self.handle,
                sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK,
                log >= 0
            {
                SQLiteDatabase.counters.checkpoints.add(1, ordering: .relaxed)
                self.passes.add(1, ordering: .relaxed)
                self.backfilled.store(Self.pack(generation, copied), ordering: .releasing)
            }
            self.scheduled.store(false, ordering: .releasing)
        }
    }

    /// The writer's own checkpoint, on its connection (between two transactions, where it may wait). Far behind
    /// (the writer outruns the thread): it waits for the thread's pass to end, then copies the rest, as SQLite's
    /// own checkpoint would have, so that the WAL stays bounded. Else SQLITE_BUSY while the thread runs a pass:
    /// then again after a later commit.
    func writerCheckpoint(_ writer: OpaquePointer, waitForThread: Bool) {
        if waitForThread { queue.sync {} }
        if sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
            SQLiteDatabase.counters.writerCheckpoints.add(1, ordering: .relaxed)
        }
    }

    /// How many frames of the WAL the checkpoint thread's last pass had copied, and in which generation of the WAL
    /// (it counts from the start of the file each time the WAL starts over): one atomic value.
    private let backfilled = Atomic<UInt64>(0)
    /// The generation of the WAL the writer is in (only while holding the writer's connection).
    private var generation: UInt32 = 0

    private static func pack(_ generation: UInt32, _ frames: Int32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: frames))
    }

    private static func unpack(_ value: UInt64) -> (UInt32, Int32) {
        (UInt32(truncatingIfNeeded: value >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
    }

    /// Waits for a checkpoint under way, then closes the connection.
    func close() {
        queue.sync {
            sqlite3_close_v2(handle)
            handle = nil
        }
    }
}
