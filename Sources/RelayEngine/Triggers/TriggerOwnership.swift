import RelayCore

/// Which trigger instances this trigger host runs, when several hosts share the work: each instance runs on exactly
/// one host at a time. The distributed `relay triggers` injects one (`KafkaTriggerOwnership`: Kafka's group
/// protocol decides); without one (`relay up`), a host runs every instance.
///
/// Instances that run on every host whatever the ownership (`TriggerBinding.runsOnEveryHost`: webhooks, passive
/// inboxes behind a load balancer) are never asked about.
public protocol TriggerOwnership: Sendable {
    /// Whether this host should run `instance` (a `TriggerBinding.instanceID`) now.
    func owns(_ instance: String) -> Bool
    /// An element each time what `owns` answers may have changed (the first at once); ends when this host will own
    /// nothing any more.
    func changes() -> any AsyncSequence<Void, Never>
}

extension TriggerBinding {
    /// Webhook instances run on every trigger host: each is an inbox for the requests the load balancer sends that
    /// host, and it does nothing by itself. Every other instance (timers, pollers, external plugins' triggers,
    /// tasks) runs where the ownership says.
    public var runsOnEveryHost: Bool { plugin == "webhook" && !isTask }
}
