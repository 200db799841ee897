/// The dispatcher's deadline for one job it sent: if no result for the job has been recorded by then, the dispatcher
/// fails the attempt itself (no worker consumes the plugin's topic, a worker vanished with the job, a message was
/// lost), so that no run waits for ever.
public struct JobDeadline: Sendable, Equatable {
    public var jobID: String
    public var runID: String
    /// The workflow of the run, to decide what follows the failure.
    public var workflow: String
    /// How long after the job is published its result may take: the step's timeout plus the dispatcher's grace.
    public var seconds: Double
    /// The attempt's error when no result came in time.
    public var error: String

    public init(jobID: String, runID: String, workflow: String, seconds: Double, error: String) {
        self.jobID = jobID
        self.runID = runID
        self.workflow = workflow
        self.seconds = seconds
        self.error = error
    }
}
