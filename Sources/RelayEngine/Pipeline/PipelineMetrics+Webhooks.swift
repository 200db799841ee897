// Temporary (issue #15, package B): the metrics package adds the real counter; the lead drops this file at merge.
extension PipelineMetrics {
    public func webhookRejected(path: String, reason: String) {}
}
