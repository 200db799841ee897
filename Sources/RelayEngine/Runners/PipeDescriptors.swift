import CProcessSpawn
import Foundation
import RelayCore

/// The two ends of a new pipe, both close-on-exec (a plugin gets only the ends given to it as 0, 1 and 2).
struct PipeDescriptors {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws(RelayError) {
        var descriptors: [Int32] = [-1, -1]
        guard relay_pipe_cloexec(&descriptors) == 0 else {
            throw RelayError(.io, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        readEnd = descriptors[0]
        writeEnd = descriptors[1]
    }

    /// Makes each descriptor non-blocking (a read or write that would wait fails with EAGAIN instead).
    static func makeNonBlocking(_ descriptors: [Int32]) {
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
    }

    func closeBoth() {
        close(readEnd)
        close(writeEnd)
    }

    /// A write to a pipe whose reader is gone must fail with EPIPE, not end Relay with SIGPIPE (the job would be
    /// delivered again and kill the next start too): Relay ignores SIGPIPE, process-wide, as SwiftNIO does.
    static let brokenPipesIgnored: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Writes every byte and closes `descriptor`, on a dispatch queue: writing blocks on a full pipe while the child
    /// does not read, which must not hold a thread of the cooperative pool. When the child's group ends, the write
    /// fails (EPIPE) instead of blocking.
    static func writeAllAndClose(_ bytes: [UInt8], to descriptor: Int32) {
        DispatchQueue.global().async {
            writeAll(bytes, to: descriptor)
            close(descriptor)
        }
    }

    /// Writes every byte, blocking while the pipe is full; stops at the first error (EPIPE: the reader is gone).
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        PipeDescriptors.brokenPipesIgnored
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
