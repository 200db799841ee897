import Synchronization

/// Counters of the pipeline, exported at /metrics in Prometheus' text format.
public final class PipelineMetrics: Sendable {
    public final class Counter: Sendable {
        let name: String
        let help: String
        private let value = Atomic<Int>(0)
        init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }
        public func increment(by amount: Int = 1) { value.add(amount, ordering: .relaxed) }
        public var count: Int { value.load(ordering: .relaxed) }
    }

    public let eventsPublished = Counter("relay_events_published_total", "Trigger events published")
    public let runsStarted = Counter("relay_runs_started_total", "Workflow runs started")
    public let runsSucceeded = Counter("relay_runs_succeeded_total", "Workflow runs that succeeded")
    public let runsFailed = Counter("relay_runs_failed_total", "Workflow runs that failed")
    public let jobsSucceeded = Counter("relay_jobs_succeeded_total", "Action jobs that succeeded")
    public let jobsFailed = Counter("relay_jobs_failed_total", "Action jobs that failed")
    public let deadLettered = Counter("relay_dead_letters_total", "Messages sent to the dead-letter topic")
    public let triggerRestarts = Counter("relay_trigger_restarts_total", "Trigger instances restarted after failing")

    public init() {}

    public var all: [Counter] {
        [
            eventsPublished, runsStarted, runsSucceeded, runsFailed, jobsSucceeded, jobsFailed, deadLettered,
            triggerRestarts,
        ]
    }

    /// Prometheus text exposition format.
    public func prometheusText() -> String {
        all.map { "# HELP \($0.name) \($0.help)\n# TYPE \($0.name) counter\n\($0.name) \($0.count)\n" }.joined()
    }
}
