import Logging
import RelayCore
import RelayStore

/// Keeps the events' payloads in the run store within their retention (`Dispatcher.Configuration.eventRetention`,
/// `--event-retention`): at start and then hourly, the payloads of events received longer ago are dropped, in
/// transactions of at most 1,000 events so the dispatcher is never held up long. The events' ids stay (they make a
/// redelivered event a no-op). Runs beside the dispatcher, over its store.
///
/// The same pass prunes the run store's log of changes (what `GET /api/v1/stream` replays from a `Last-Event-ID`)
/// to its last `changeRetention` (7 days).
///
/// Shutdown: cancellation ends the wait between passes; a pass's transaction finishes first.
public struct EventRetention: Sendable {
    let store: any RunStore
    /// How long payloads are kept; zero: not kept at all.
    public let retention: Duration
    /// How often the pass runs.
    public let interval: Duration
    /// How long the log of run and step changes is kept.
    public var changeRetention = Duration.seconds(7 * 86_400)
    let logger: Logger

    public init(
        store: any RunStore, retention: Duration, interval: Duration = .seconds(3600),
        logger: Logger = Logger(label: "relay.events.retention")
    ) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async throws {
        while !Task.isCancelled {
            // A pass that fails (the database busy past its timeout: a CLI holding the write lock) is logged and
            // tried again at the next one: upkeep never takes the process down.
            do {
                let dropped = try await applyOnce()
                if dropped > 0 { logger.info("dropped the payloads of \(dropped) event(s) past their retention") }
                let cutoff = RunTime.now() - changeRetention / .seconds(1)
                while try await store.pruneChanges(before: cutoff) == 10_000 {}
            } catch  where !(error is CancellationError) {
                logger.error("the run store's retention pass failed; it runs again in \(interval): \(error)")
            }
            try await Task.sleep(for: interval)
        }
    }

    /// One pass; returns how many payloads it dropped.
    @discardableResult
    public func applyOnce() async throws -> Int {
        let seconds = max(0, retention / .seconds(1))
        var total = 0
        while true {
            let dropped = try await store.transaction(acknowledging: []) { tx in
                (try tx.applyEventRetention(seconds: seconds, now: RunTime.now(), limit: 1000), [])
            }
            total += dropped
            if dropped < 1000 { return total }
        }
    }
}
