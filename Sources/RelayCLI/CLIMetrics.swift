import CoreMetrics
import RelayEngine

/// Metrics of the long-running commands: the global `MetricsSystem` reports into the process's pipeline metrics,
/// so that what libraries measure (Hummingbird's HTTP metrics) is served at the same `/metrics`.
enum CLIMetrics {
    static func bootstrap(_ metrics: PipelineMetrics) {
        MetricsSystem.bootstrap(metrics.factory)
    }
}
