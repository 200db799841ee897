import Foundation

/// The arithmetic every bench prints with: durations as milliseconds or seconds, and percentiles of sorted latencies.
enum BenchFigures {
    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The `p` quantile (0…1) of `sorted` (ascending), 0 for none.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// The last line of a one-run-at-a-time bench, on either bus: throughput and latencies to 0.01 ms.
    static func sequentialLine(latencies sorted: [Double], runs: Int, steps: Int, seconds: Double) -> String {
        String(
            format: "runs/s=%.0f steps/s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f",
            Double(runs) / seconds, Double(runs * steps) / seconds, percentile(sorted, 0.5), percentile(sorted, 0.9),
            percentile(sorted, 0.99), sorted.last ?? 0)
    }
}
