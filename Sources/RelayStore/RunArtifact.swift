import RelayCore

/// A document an `artifact` step made in a run: rendered text (Markdown, HTML or plain) kept with the run and shown
/// by `relay runs show` (and the API and the UI).
public struct RunArtifact: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case markdown, html, text
    }

    public var runID: String
    public var stepID: String
    /// The job id of the attempt (or item attempt) that made it: a redelivered decision never keeps it twice.
    public var jobID: String
    public var name: String
    public var format: Format
    public var content: String
    /// Unix time, seconds.
    public var createdAt: Double

    public init(
        runID: String, stepID: String, jobID: String, name: String, format: Format, content: String, createdAt: Double
    ) {
        self.runID = runID
        self.stepID = stepID
        self.jobID = jobID
        self.name = name
        self.format = format
        self.content = content
        self.createdAt = createdAt
    }
}

/// A global artifact: its name, how many entries it holds and when it last changed.
public struct GlobalArtifactSummary: Sendable, Equatable {
    public var name: String
    public var entries: Int
    /// Unix time, seconds, of its latest entry.
    public var updatedAt: Double

    public init(name: String, entries: Int, updatedAt: Double) {
        self.name = name
        self.entries = entries
        self.updatedAt = updatedAt
    }
}
