import Foundation
import RelayEngine

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Which partitions the bench's worker processes own, read from their `/metrics`
/// (`relay_kafka_assigned_partitions{group="…",topic="…"} N`), one port per worker.
struct KafkaAssignmentProbe: Sendable {
    let ports: [Int]

    /// Until the workers own every partition of `topic` between them (and each owns one, if there are enough),
    /// unchanged for 2 s. `check` throws when a worker has exited.
    func waitForAssignment(
        of topic: String, partitions: Int, timeout: Duration, check: () throws -> Void
    ) async throws {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 2
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let deadline = ContinuousClock.now + timeout
        var stableSince: ContinuousClock.Instant?
        while true {
            try check()
            var shares: [Int] = []
            for port in ports { shares.append(await owned(of: topic, port: port, session: session)) }
            let complete =
                shares.reduce(0, +) == partitions && (shares.count > partitions || shares.allSatisfy { $0 > 0 })
            if complete {
                if let since = stableSince, ContinuousClock.now - since >= .seconds(2) { return }
                stableSince = stableSince ?? .now
            } else {
                stableSince = nil
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError(
                    "bench: the workers did not share \(topic)'s \(partitions) partitions within \(timeout)"
                        + " (they own \(shares))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// What the worker on `port` owns of `topic`; 0 while it does not answer yet.
    private func owned(of topic: String, port: Int, session: URLSession) async -> Int {
        guard let url = URL(string: "http://127.0.0.1:\(port)/metrics"),
            let (data, response) = try? await session.data(from: url),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return 0 }
        return Self.assignedPartitions(of: topic, in: String(decoding: data, as: UTF8.self))
    }

    /// The sum of `relay_kafka_assigned_partitions` samples whose `topic` label is `topic`, in Prometheus' text
    /// format (one process may have several groups on a topic).
    static func assignedPartitions(of topic: String, in metrics: String) -> Int {
        Int(PipelineMetrics.value(of: PipelineMetrics.Name.assignedPartitions, labels: ["topic": topic], in: metrics))
    }
}
