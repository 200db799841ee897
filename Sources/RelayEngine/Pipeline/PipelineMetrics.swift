import Foundation
import RelayKafka
import Synchronization

/// Counters of the pipeline, and on Kafka the partitions its consumers own, exported at /metrics in Prometheus'
/// text format.
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
    public let runsCancelled = Counter("relay_runs_cancelled_total", "Workflow runs cancelled")
    public let workflowReloads = Counter(
        "relay_workflow_reloads_total", "Workflow files added, changed or removed and applied without a restart")
    public let workflowReloadErrors = Counter(
        "relay_workflow_reload_errors_total",
        "Workflow files found invalid on a reload (the previous version stays active)")
    public let jobsSucceeded = Counter("relay_jobs_succeeded_total", "Action jobs that succeeded")
    public let jobsFailed = Counter("relay_jobs_failed_total", "Action jobs that failed")
    public let deadLettered = Counter("relay_dead_letters_total", "Messages sent to the dead-letter topic")
    public let triggerRestarts = Counter("relay_trigger_restarts_total", "Trigger instances restarted after failing")
    public let stepsFailedByDeadline = Counter(
        "relay_steps_failed_by_deadline_total",
        "Step attempts the dispatcher failed because no result came within the step's timeout plus the grace period")
    public let lateResults = Counter(
        "relay_late_results_total", "Results that came after their job's deadline had failed the attempt (ignored)")

    /// Where the Kafka assignment is read from when /metrics is served (none on the embedded bus).
    private let assignment = Mutex<(@Sendable () -> [KafkaPartitionShare])?>(nil)

    public init() {}

    /// Exports `relay_kafka_assigned_partitions{group, topic}`, read from `source` at every scrape.
    public func observeAssignedPartitions(_ source: @escaping @Sendable () -> [KafkaPartitionShare]) {
        assignment.withLock { $0 = source }
    }

    public var all: [Counter] {
        [
            eventsPublished, runsStarted, runsSucceeded, runsFailed, jobsSucceeded, jobsFailed, deadLettered,
            triggerRestarts, stepsFailedByDeadline, lateResults, runsCancelled, workflowReloads, workflowReloadErrors,
        ]
    }

    /// Prometheus text exposition format.
    public func prometheusText() -> String {
        var text = all.map { "# HELP \($0.name) \($0.help)\n# TYPE \($0.name) counter\n\($0.name) \($0.count)\n" }
            .joined()
        if let source = assignment.withLock({ $0 }) {
            let name = "relay_kafka_assigned_partitions"
            text += "# HELP \(name) Partitions of a topic this process's member of a consumer group owns now\n"
            text += "# TYPE \(name) gauge\n"
            for share in source() {
                let labels = "group=\"\(Self.escaped(share.group))\",topic=\"\(Self.escaped(share.topic))\""
                text += "\(name){\(labels)} \(share.partitions)\n"
            }
        }
        return text
    }

    /// A label value as Prometheus' text format writes it.
    public static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
