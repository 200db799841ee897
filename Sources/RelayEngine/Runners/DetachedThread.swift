import CProcessSpawn
import Foundation
import RelayCore

/// Starts a detached OS thread, or says why it cannot: Foundation's `Thread.start()` ignores `pthread_create`'s
/// failure (out of threads or memory), and a body that never runs leaves whoever waits for it waiting for good (a
/// process never reaped, a plugin's output never collected).
enum DetachedThread {
    private final class Body {
        let name: String
        let run: @Sendable () -> Void
        init(_ name: String, _ run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// Runs `body` on a new detached thread named `name` (cut to the 15 bytes Linux keeps).
    static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(RelayError) {
        let box = Unmanaged.passRetained(Body(name, body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
                relay_name_current_thread(body.name)
                body.run()
                return nil
            }, box)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw RelayError(.io, "cannot start a thread (\(name)): \(String(cString: strerror(status)))")
        }
        _ = pthread_detach(thread)
    }
}
