import RelayCore

/// `--deadline-grace SECONDS` of `relay up` and `relay dispatcher`, checked.
enum DeadlineGrace {
    /// The grace as a duration: 0 to 30 days.
    static func duration(seconds: Double) throws -> Duration {
        let most = Double(WorkflowLimits.longestDurationDays * 86_400)
        guard seconds.isFinite, (0...most).contains(seconds) else {
            throw CLIFailure("--deadline-grace: expected seconds from 0 to \(Int(most)), found \(seconds)")
        }
        return .milliseconds(Int((seconds * 1000).rounded()))
    }
}
