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

    /// The content's size in bytes (UTF-8).
    public var size: Int { content.utf8.count }

    /// How `relay runs show --json` and `relay runs artifact --json` show it.
    public var json: JSONValue {
        [
            "name": .string(name), "step": .string(stepID), "format": .string(format.rawValue), "size": .int(size),
            "created": .string(RunTime.text(createdAt)), "content": .string(content),
        ]
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

    /// How `relay artifacts list --json` shows it.
    public var json: JSONValue {
        ["name": .string(name), "entries": .int(entries), "updated": .string(RunTime.text(updatedAt))]
    }
}

/// What the run store keeps of artifacts at most: beyond a limit, `addArtifact` and `appendGlobalArtifact` throw a
/// `RelayError` (`invalidValue`) naming it, and keep nothing.
public enum ArtifactLimits {
    /// An artifact's content, in bytes of UTF-8 (1 MiB).
    public static let maximumContentBytes = 1 << 20
    /// One entry of a global artifact, in bytes of its compact JSON (64 KiB).
    public static let maximumEntryBytes = 64 << 10
    /// The entries of one global artifact.
    public static let maximumEntries = 100_000
    /// All the entries of one global artifact together, in bytes of their compact JSON (16 MiB): a lookup reads them
    /// all, in the dispatcher's transaction.
    public static let maximumTotalBytes = 16 << 20
    /// The most entries a lookup returns (its `count` says how many matched).
    public static let mostLookupEntries = 1000
}
