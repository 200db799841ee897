import RelayCore

/// A workflow as the importer writes it (`workflows/<name>.yaml`): Relay's workflow keys, plus the comments that
/// tell a reader what was left out and why.
public struct ImportedWorkflow: Sendable {
    public enum Entry: Sendable {
        case step(ImportedStep)
        /// A step of the export that is not in the workflow: a comment in its place.
        case omitted(String)
    }

    public var name: String
    public var description: String?
    /// Comment lines at the top of the file.
    public var header: [String] = []
    public var trigger: ImportedTrigger?
    /// `vars:` (exports hold no values: each is null until filled in).
    public var variables: [ICONVariable] = []
    public var entries: [Entry] = []
    public var output: JSONValue?

    public init(name: String, description: String? = nil) {
        self.name = name
        self.description = description
    }

    public var steps: [ImportedStep] {
        entries.compactMap {
            if case .step(let step) = $0 { return step }
            return nil
        }
    }
}

/// `trigger:` of an imported workflow.
public struct ImportedTrigger: Sendable, Equatable {
    public var plugin: String
    public var trigger: String
    public var connection: String?
    public var input: JSONValue
    /// Comment lines above it.
    public var comments: [String] = []
}

/// One step of an imported workflow.
public struct ImportedStep: Sendable, Equatable {
    public var id: String
    public var plugin: String?
    public var action: String?
    /// A sub-workflow (a loop's body).
    public var workflow: String?
    public var connection: String?
    public var needs: [String] = []
    public var when: String?
    public var forEach: String?
    public var concurrency: Int?
    public var continueOnFailure = false
    public var input: JSONValue = [:]
    /// Comment lines above the step (its name in InsightConnect, what changed).
    public var comments: [String] = []

    public init(id: String) { self.id = id }
}
