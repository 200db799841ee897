import CoreMetrics
import Foundation
import Prometheus
import RelayCore
import RelayKafka
import Synchronization

/// The metrics of one pipeline process, served at its `/metrics` in Prometheus' text format (docs/pipeline.md,
/// *Metrics*, lists them).
///
/// Written with swift-metrics' API (`Counter`, `Timer`, `Meter`) through a `PrometheusMetricsFactory` bound to this
/// instance's own `PrometheusCollectorRegistry`: several pipelines in one process (tests, `relay bench`) never share
/// a series. Library code never bootstraps the global `MetricsSystem`; the executables do, with `factory`, so that
/// what other libraries report (Hummingbird's HTTP metrics) lands in the same registry.
///
/// Gauges that describe state kept elsewhere (backlog, stored dead letters, scheduled retries, Kafka assignment)
/// are read by the collectors registered with `collect(_:)`, each time `/metrics` is served.
public final class PipelineMetrics: Sendable {
    /// Where every series of this process is kept.
    public let registry: PrometheusCollectorRegistry
    /// swift-metrics' factory over `registry`, with Relay's histogram buckets and Hummingbird's HTTP metrics renamed
    /// (`relay_http_…`). For `MetricsSystem.bootstrap` at an executable's edge.
    public let factory: PrometheusMetricsFactory
    private let jobsInFlight: CoreMetrics.Meter
    /// Runs finished, all workflows and statuses together (`runsFinished`).
    private let runsFinishedTotal = Atomic<Int>(0)
    private let collectors = Mutex<[@Sendable () async -> [GaugeReading]]>([])
    /// The distinct webhook paths and reasons seen, bounded (a path is whatever a client sent).
    private let webhookLabels = Mutex<Set<String>>([])
    /// The counters and timers made so far, by name and labels: a worker records two series per job, and making a
    /// series' handle again (the factory renames it, then finds it in the registry under its lock) cost 3 % of a
    /// worker's CPU. As many as the registry has series.
    private let handles = Mutex<(counters: [String: CoreMetrics.Counter], timers: [String: CoreMetrics.Timer])>(
        ([:], [:]))
    /// A job's two series by what names them, found with one look-up (no key string made per job). As many as
    /// `handles` has jobs' series, or fewer.
    private let jobSeries = Mutex<[JobSeriesKey: (jobs: CoreMetrics.Counter, duration: CoreMetrics.Timer)]>([:])
    private struct JobSeriesKey: Hashable {
        var workflow: String
        var plugin: String
        var action: String
        var succeeded: Bool
    }

    /// Prometheus names of Relay's metrics.
    public enum Name {
        public static let runsStarted = "relay_runs_started_total"
        public static let runsFinished = "relay_runs_finished_total"
        public static let jobs = "relay_jobs_total"
        public static let eventsPublished = "relay_events_published_total"
        public static let deadLetters = "relay_dead_letters_total"
        public static let triggerRestarts = "relay_trigger_restarts_total"
        public static let webhookRejections = "relay_webhook_rejections_total"
        public static let workflowReloads = "relay_workflow_reloads_total"
        public static let workflowReloadErrors = "relay_workflow_reload_errors_total"
        public static let stepsFailedByDeadline = "relay_steps_failed_by_deadline_total"
        public static let lateResults = "relay_late_results_total"
        public static let stepDuration = "relay_step_duration_seconds"
        public static let runDuration = "relay_run_duration_seconds"
        public static let eventToFirstJob = "relay_event_to_first_job_seconds"
        public static let jobsInFlight = "relay_jobs_in_flight"
        public static let scheduledRetries = "relay_scheduled_retries"
        public static let storedDeadLetters = "relay_dead_letters_stored"
        public static let backlog = "relay_backlog_messages"
        public static let assignedPartitions = "relay_kafka_assigned_partitions"
    }

    /// The buckets of Relay's histograms, in seconds: from half a millisecond (a fast step on the embedded bus) to a
    /// minute.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// How many distinct webhook paths and reasons get their own series; later ones are counted as `other`.
    static let webhookLabelLimit = 200

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        factory.nameAndLabelSanitizer = Self.prometheusName
        self.registry = registry
        self.factory = factory
        jobsInFlight = CoreMetrics.Meter(label: Name.jobsInFlight, factory: factory)
        // The unlabelled series exist from the start (0 until something happens).
        for name in [Name.workflowReloads, Name.workflowReloadErrors, Name.stepsFailedByDeadline, Name.lateResults] {
            counter(name).increment(by: 0)
        }
    }

    /// How many runs have finished (`relay_runs_finished_total` summed), read without rendering the registry: what
    /// `relay bench` polls while it waits.
    public var runsFinished: Int { runsFinishedTotal.load(ordering: .relaxed) }

    // MARK: - Recording

    /// A run started (a trigger's, a sub-workflow's, a resumed one is not counted again).
    public func runStarted(workflow: String) { counter(Name.runsStarted, [("workflow", workflow)]).increment() }

    /// A run ended with `status`, `seconds` after it started (nil: unknown, no duration is recorded).
    public func runFinished(workflow: String, status: RunStatus, seconds: Double?) {
        counter(Name.runsFinished, [("workflow", workflow), ("status", status.rawValue)]).increment()
        runsFinishedTotal.add(1, ordering: .relaxed)
        if let seconds { timer(Name.runDuration, [("workflow", workflow)]).recordSeconds(max(0, seconds)) }
    }

    /// A trigger's run published its first job `seconds` after the event's time.
    public func firstJobPublished(workflow: String, seconds: Double) {
        timer(Name.eventToFirstJob, [("workflow", workflow)]).recordSeconds(max(0, seconds))
    }

    /// A worker took a job (`relay_jobs_in_flight` until `jobFinished`).
    public func jobStarted() { jobsInFlight.increment() }

    /// A worker finished a job: its result's status and, from the worker's clock, how long it ran.
    public func jobFinished(workflow: String, plugin: String, action: String, succeeded: Bool, seconds: Double?) {
        jobsInFlight.decrement()
        let key = JobSeriesKey(workflow: workflow, plugin: plugin, action: action, succeeded: succeeded)
        let series =
            jobSeries.withLock { $0[key] }
            ?? {
                let status = succeeded ? "succeeded" : "failed"
                let series = (
                    jobs: counter(Name.jobs, [("workflow", workflow), ("plugin", plugin), ("status", status)]),
                    duration: timer(Name.stepDuration, [("plugin", plugin), ("action", action)])
                )
                jobSeries.withLock { $0[key] = series }
                return series
            }()
        series.jobs.increment()
        if let seconds { series.duration.recordSeconds(max(0, seconds)) }
    }

    /// A trigger event published; `workflow`: the workflows bound to its instance (comma-separated), or "".
    public func eventPublished(plugin: String, trigger: String, workflow: String) {
        counter(Name.eventsPublished, [("plugin", plugin), ("trigger", trigger), ("workflow", workflow)]).increment()
    }

    /// Messages of `sourceTopic` sent to the dead-letter topic.
    public func deadLettered(sourceTopic: String, count: Int = 1) {
        counter(Name.deadLetters, [("source_topic", sourceTopic)]).increment(by: count)
    }

    /// A trigger instance restarted after failing.
    public func triggerRestarted(plugin: String, trigger: String) {
        counter(Name.triggerRestarts, [("plugin", plugin), ("trigger", trigger)]).increment()
    }

    /// A webhook request refused (`reason`: a short fixed word such as `not_found`, `signature`, `too_large`,
    /// `invalid_json`). Past `webhookLabelLimit` distinct paths and reasons in all, a new one is counted as `other`
    /// (a path is whatever a client sent: the series stay bounded).
    public func webhookRejected(path: String, reason: String) {
        let (path, reason) = webhookLabels.withLock { seen -> (String, String) in
            func bounded(_ value: String, _ kind: String) -> String {
                let key = kind + "\u{0}" + value
                if seen.contains(key) { return value }
                guard seen.count < Self.webhookLabelLimit else { return "other" }
                seen.insert(key)
                return value
            }
            return (bounded(path, "path"), bounded(reason, "reason"))
        }
        counter(Name.webhookRejections, [("path", path), ("reason", reason)]).increment()
    }

    /// Workflow files added, changed or removed and applied without a restart.
    public func workflowsReloaded(_ count: Int) { counter(Name.workflowReloads).increment(by: count) }

    /// A workflow file found invalid on a reload (the previous version stays active).
    public func workflowReloadFailed() { counter(Name.workflowReloadErrors).increment() }

    /// Step attempts the dispatcher failed because no result came within the timeout plus the grace period.
    public func stepsFailedByDeadline(_ count: Int) { counter(Name.stepsFailedByDeadline).increment(by: count) }

    /// Results that came after their job's deadline had failed the attempt (ignored).
    public func lateResults(_ count: Int) { counter(Name.lateResults).increment(by: count) }

    // MARK: - Gauges read at scrape time

    /// One gauge's value as a collector read it.
    public struct GaugeReading: Sendable {
        public var name: String
        public var labels: [(String, String)]
        public var value: Double
        public init(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
            self.name = name
            self.labels = labels
            self.value = value
        }
    }

    /// Registers a collector: called before every `prometheusText()`, it returns gauges' current values (a
    /// collector that cannot read them returns none: the gauges keep their last value).
    public func collect(_ collector: @escaping @Sendable () async -> [GaugeReading]) {
        collectors.withLock { $0.append(collector) }
    }

    /// Exports `relay_kafka_assigned_partitions{group, topic}`, read from `source` at every scrape.
    public func observeAssignedPartitions(_ source: @escaping @Sendable () -> [KafkaPartitionShare]) {
        collect {
            source().map {
                GaugeReading(
                    Name.assignedPartitions, [("group", $0.group), ("topic", $0.topic)], Double($0.partitions))
            }
        }
    }

    /// Runs the collectors, then renders every series in Prometheus' text exposition format.
    public func prometheusText() async -> String {
        for collector in collectors.withLock({ $0 }) {
            for reading in await collector() {
                CoreMetrics.Meter(label: reading.name, dimensions: reading.labels, factory: factory).set(reading.value)
            }
        }
        return registry.emitToString()
    }

    // MARK: - Helpers

    private func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        let key = Self.key(name, labels)
        if let counter = handles.withLock({ $0.counters[key] }) { return counter }
        let counter = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        handles.withLock { $0.counters[key] = counter }
        return counter
    }

    private func timer(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Timer {
        let key = Self.key(name, labels)
        if let timer = handles.withLock({ $0.timers[key] }) { return timer }
        let timer = CoreMetrics.Timer(label: name, dimensions: labels, factory: factory)
        handles.withLock { $0.timers[key] = timer }
        return timer
    }

    /// A series' name and labels as one key (NUL cannot be in a name; in a label value it is only ambiguous with
    /// another value holding NUL, which no caller makes).
    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(into: name) { key, label in key += "\u{0}\(label.0)\u{0}\(label.1)" }
    }

    /// Relay's names pass unchanged; Hummingbird's `MetricsMiddleware` metrics (OpenTelemetry-style dotted names
    /// and labels) become `relay_http_…` with lower_snake labels `route`, `method`, `status`, `error`.
    @Sendable static func prometheusName(_ name: String, _ labels: [(String, String)]) -> (String, [(String, String)]) {
        guard let name = renamed[name] else { return (name, labels) }
        return (name, labels.map { (renamedLabels[$0.0] ?? $0.0, $0.1) })
    }

    private static let renamed: [String: String] = [
        "hb.requests": "relay_http_requests_total", "hb.request.errors": "relay_http_request_errors_total",
        "http.server.request.duration": "relay_http_request_duration_seconds",
        "http.server.active_requests": "relay_http_active_requests",
    ]
    private static let renamedLabels: [String: String] = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status",
        "error.type": "error",
    ]

    /// A label value as Prometheus' text format writes it.
    public static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
