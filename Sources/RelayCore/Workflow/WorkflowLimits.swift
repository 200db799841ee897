/// The ranges a workflow's numbers must fall in. Durations are checked when a workflow is read, so that nothing
/// downstream (a deadline in nanoseconds, a timeout in milliseconds, doubling a backoff) can overflow and trap.
public enum WorkflowLimits {
    /// The shortest step timeout, retry backoff or task interval.
    public static let shortestDuration = Duration.milliseconds(1)
    /// The longest step timeout, retry backoff or task interval.
    public static let longestDuration = Duration.seconds(longestDurationDays * 86_400)
    public static let longestDurationDays = 30
    /// The most tries of a step (the first included).
    public static let mostAttempts = 100
    /// The most items of a `for_each` step running at once (`concurrency`).
    public static let mostConcurrency = 1000
    /// The most items one `for_each` step runs over.
    public static let mostItems = 10_000
    /// The longest interval of the timer plugin's interval trigger, in seconds (a year).
    public static let longestTimerSeconds = 365 * 86_400

    /// A step timeout of `milliseconds` read from a message (which no workflow file checked), brought into range.
    public static func timeout(milliseconds: Int) -> Duration {
        let longest = longestDurationDays * 86_400_000
        return .milliseconds(min(max(milliseconds, 1), longest))
    }
}
