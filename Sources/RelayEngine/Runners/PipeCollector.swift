import Foundation
import RelayCore
import Synchronization

/// Collects what a child writes to its pipes (its stdout and stderr), on a thread of its own that waits in `poll`
/// on the pipes and on a wake-up pipe, so the caller can stop waiting at a deadline: a pipe kept open by a process
/// that left the plugin's group (or anything else) cannot hold a step past it.
///
/// Why a thread and not a Dispatch read source per pipe (what this was until 2026-12): on Linux, libdispatch's
/// epoll bookkeeping can free a source's registration while it is still reachable when read sources are set up
/// and torn down concurrently on several threads (swift-corelibs-libdispatch issue 949, open; swift-subprocess
/// left DispatchIO for its own epoll loop for the same reason). The test suite, running plugin steps in parallel,
/// crashed there once (SIGSEGV in libdispatch, a source's owner read from freed memory). Here nothing is shared
/// between collectors: a plain `poll` on descriptors this collector owns, and one thread that ends with them.
final class PipeCollector: Sendable {
    /// What one pipe gave.
    struct Output: Sendable {
        /// What was written, cut at the limit.
        var bytes: [UInt8] = []
        /// More than the limit was written (what came past it was read and dropped).
        var overflowed = false
    }

    /// What a plugin may write to one pipe before the rest is read and dropped: far beyond any real reply, and a
    /// bound on what a runaway plugin costs (its step fails saying so, see `Output.overflowed`).
    static let defaultLimit = 64 << 20

    /// What the reading thread has read, and its end; shared with the thread, which does not hold the collector.
    private final class Shared: Sendable {
        let outputs: Mutex<[Output]>
        let ended = ExitLatch()
        init(count: Int) { outputs = Mutex(Array(repeating: Output(), count: count)) }
    }

    private let shared: Shared
    /// Written to (one byte) to make the reading thread stop; ours until `deinit` closes it. The thread owns the
    /// read end, and the collected descriptors, and closes them when it ends.
    private let wakeWriteEnd: Int32

    /// Takes ownership of `descriptors` (closed when collection ends, also when this throws). Past `limit` bytes on
    /// a pipe, what comes is read and dropped, so the writer is never blocked on a full pipe.
    init(descriptors: [Int32], limit: Int = PipeCollector.defaultLimit) throws(RelayError) {
        PipeDescriptors.brokenPipesIgnored
        let wake: PipeDescriptors
        do {
            wake = try PipeDescriptors()
        } catch {
            for descriptor in descriptors { close(descriptor) }
            throw error
        }
        PipeDescriptors.makeNonBlocking([wake.writeEnd])
        let shared = Shared(count: descriptors.count)
        let reader = Reader(descriptors: descriptors, wake: wake.readEnd, limit: limit)
        do {
            try DetachedThread.start(name: "relay-pipes") {
                reader.run { index, bytes, dropped in
                    shared.outputs.withLock { outputs in
                        if !bytes.isEmpty { outputs[index].bytes.append(contentsOf: bytes) }
                        if dropped { outputs[index].overflowed = true }
                    }
                }
                shared.ended.signal()
            }
        } catch {
            for descriptor in descriptors + [wake.readEnd, wake.writeEnd] { close(descriptor) }
            throw error
        }
        self.shared = shared
        wakeWriteEnd = wake.writeEnd
    }

    deinit {
        wake()
        close(wakeWriteEnd)
    }

    /// What was written to each pipe (in the order of `descriptors`) until end of file, or until `deadline` for a
    /// pipe still open then.
    func collected(waitingUntil deadline: ContinuousClock.Instant) async -> [Output] {
        let ended = shared.ended
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await ended.wait() }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
        wake()
        // The thread sees the wake-up at its next poll (promptly: reads never block).
        await ended.wait()
        return shared.outputs.withLock { $0 }
    }

    private func wake() {
        var byte: UInt8 = 1
        // EAGAIN (the pipe is full of earlier wake-ups) and EPIPE (the thread has ended) need nothing more.
        _ = write(wakeWriteEnd, &byte, 1)
    }

    /// The reading loop, run on the collector's thread; owns the descriptors it reads and its wake-up pipe's read
    /// end (made non-blocking here: reads never block).
    struct Reader: @unchecked Sendable {
        // @unchecked Sendable: descriptors (integers), handed to the one thread that uses and closes them.
        let descriptors: [Int32]
        let wake: Int32
        let limit: Int

        init(descriptors: [Int32], wake: Int32, limit: Int) {
            PipeDescriptors.makeNonBlocking(descriptors + [wake])
            self.descriptors = descriptors
            self.wake = wake
            self.limit = limit
        }

        /// Reads until every pipe is at end of file (or failed) or the wake-up pipe is readable, handing each read
        /// (pipe index, bytes kept, whether some were dropped) to `deliver`; then closes every descriptor. What the
        /// pipes hold when the wake-up comes is still read (up to 1 MiB each).
        func run(deliver: (Int, ArraySlice<UInt8>, Bool) -> Void) {
            var polled = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            polled.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
            var kept = Array(repeating: 0, count: descriptors.count)
            var open = descriptors.count
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while open > 0 {
                if poll(&polled, nfds_t(polled.count), -1) < 0 {
                    if errno == EINTR { continue }
                    break
                }
                let woken = polled[descriptors.count].revents != 0
                for index in descriptors.indices where polled[index].fd >= 0 && (woken || polled[index].revents != 0) {
                    // At most 1 MiB a pipe between two polls, so that a writer that never stops cannot keep the
                    // thread from the wake-up or the other pipe.
                    var reads = 0
                    while reads < 16 {
                        reads += 1
                        let count = read(polled[index].fd, &buffer, buffer.count)
                        if count > 0 {
                            let room = max(0, limit - kept[index])
                            let keep = min(count, room)
                            kept[index] += keep
                            deliver(index, buffer[0..<keep], count > room)
                        } else if count < 0 && errno == EINTR {
                            continue
                        } else {
                            // 0: end of file; EAGAIN: nothing more for now; any other error ends this pipe (a
                            // negative descriptor is skipped by poll).
                            if count == 0 || errno != EAGAIN {
                                polled[index].fd = -1
                                open -= 1
                            }
                            break
                        }
                    }
                }
                if woken { break }
            }
            for descriptor in descriptors { close(descriptor) }
            close(wake)
        }
    }
}
