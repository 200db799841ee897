import Foundation
import Synchronization

/// Collects what a child writes to a pipe. The read end is non-blocking and read on a dispatch source (no thread
/// sits in `read`), so the caller can stop waiting at a deadline: a pipe kept open by a process that left the
/// plugin's group (or anything else) cannot hold a step past it.
final class PipeCollector: @unchecked Sendable {
    // @unchecked Sendable: `source` is only resumed and cancelled (thread-safe in Dispatch); `bytes` is behind a
    // Mutex; the descriptor is read only on the source's serial queue and closed by its cancel handler.
    private let source: any DispatchSourceRead
    private let bytes = Mutex<(kept: [UInt8], dropped: Bool)>(([], false))
    private let ended = ExitLatch()

    /// What a plugin may write to one pipe before the rest is read and dropped: far beyond any real reply, and a
    /// bound on what a runaway plugin costs (its step fails saying so, see `overflowed`).
    static let defaultLimit = 64 << 20

    /// Takes ownership of `descriptor` (closed when collection ends). Past `limit` bytes, what comes is read and
    /// dropped, so the writer is never blocked on a full pipe.
    init(descriptor: Int32, limit: Int = PipeCollector.defaultLimit) {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        let source = DispatchSource.makeReadSource(
            fileDescriptor: descriptor, queue: DispatchQueue(label: "relay.pipe-collector"))
        self.source = source
        let ended = self.ended
        // The handler holds the source until it is cancelled (Dispatch then releases both handlers).
        source.setEventHandler { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count > 0 {
                    self?.bytes.withLock { state in
                        let room = max(0, limit - state.kept.count)
                        state.kept.append(contentsOf: buffer[0..<min(count, room)])
                        if count > room { state.dropped = true }
                    }
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    // 0: end of file; EAGAIN: nothing more for now; any other error ends collection.
                    if count == 0 || errno != EAGAIN { source.cancel() }
                    return
                }
            }
        }
        source.setCancelHandler {
            close(descriptor)
            ended.signal()
        }
        source.resume()
    }

    deinit { source.cancel() }

    /// What was written until end of file, or until `deadline` if the pipe is still open then.
    func collected(waitingUntil deadline: ContinuousClock.Instant) async -> [UInt8] {
        let ended = self.ended
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await ended.wait() }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
        source.cancel()
        // The cancel handler runs once a running event handler returns (promptly: reads never block).
        await ended.wait()
        return bytes.withLock { $0.kept }
    }

    /// Whether more was written than the limit (what `collected` returns is then cut at the limit).
    var overflowed: Bool { bytes.withLock { $0.dropped } }
}
