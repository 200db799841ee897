/// Where a workflow run stands. Stored and published by its raw value.
public enum RunStatus: String, Sendable, Equatable, CaseIterable, Codable {
    case running
    case succeeded
    case failed
    /// Stopped by `relay runs cancel` (or with its parent run): nothing new started after it.
    case cancelled

    /// The run has ended (only `relay runs resume` sets it running again).
    public var isFinished: Bool { self != .running }
}

/// Where one attempt of a step stands. Stored by its raw value; templates see it as `steps.ID.status`.
public enum StepStatus: String, Sendable, Equatable, CaseIterable, Codable {
    /// Scheduled or running on a worker (or waiting for a retry's backoff).
    case running
    case succeeded
    case failed
    /// Its `when` did not hold.
    case skipped

    /// The attempt has ended.
    public var isFinished: Bool { self != .running }

    /// The status a plugin's result gives the attempt.
    public init(_ result: StepEvent.Status) { self = result == .ok ? .succeeded : .failed }
}
