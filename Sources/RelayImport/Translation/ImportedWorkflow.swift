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
    /// A step the dispatcher decides itself (`artifact:`, `match:` …) instead of a plugin's action or a sub-workflow.
    public var kind: ImportedStepKind?
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
    /// `input:`, written for plugin and sub-workflow steps only (the other kinds refuse it).
    public var input: JSONValue = [:]
    /// Comment lines above the step (its name in InsightConnect, what changed).
    public var comments: [String] = []

    public init(id: String) { self.id = id }
}

/// The step kinds Relay's dispatcher decides itself (issue #14), each written as one key with its settings.
public enum ImportedStepKind: Sendable, Equatable {
    /// `artifact: {name, format, content}`: a document kept with the run; `content` is a text template.
    case artifact(name: String, format: String, content: String)
    /// `match: {text, pattern, ignore_case, all}`: an ICU regular expression with named groups over a text.
    case match(text: String, pattern: String, ignoreCase: Bool, all: Bool)
    /// `filter: <condition>`: the path goes on only when it holds.
    case filter(String)
    /// `break: true` (nil) or `break: <condition>`: leaves the loop (ends the run) when reached and it holds.
    case `break`(String?)
    /// `decision: {question, options, timeout, default}`: waits for a person's answer.
    case decision(question: String, options: [String], timeout: String?, defaultOption: String?)
    /// `global_artifact: {name, lookup}` or `{name, append}`: a named list kept across runs.
    case globalArtifact(name: String, operation: GlobalArtifactOperation, value: JSONValue)
    /// `join: {NAME: {NEED: TEMPLATE…}…}`: values taken from the path that reached a join.
    case join(JSONObject)

    public enum GlobalArtifactOperation: String, Sendable {
        case lookup, append
    }

    /// The step's key in YAML.
    public var key: String {
        switch self {
        case .artifact: "artifact"
        case .match: "match"
        case .filter: "filter"
        case .break: "break"
        case .decision: "decision"
        case .globalArtifact: "global_artifact"
        case .join: "join"
        }
    }

    /// The value under `key`.
    public var value: JSONValue {
        switch self {
        case .artifact(let name, let format, let content):
            return ["name": .string(name), "format": .string(format), "content": .string(content)]
        case .match(let text, let pattern, let ignoreCase, let all):
            return [
                "text": .string(text), "pattern": .string(pattern), "ignore_case": .bool(ignoreCase), "all": .bool(all),
            ]
        case .filter(let condition): return .string(condition)
        case .break(let condition): return condition.map(JSONValue.string) ?? true
        case .decision(let question, let options, let timeout, let defaultOption):
            var object: JSONObject = ["question": .string(question), "options": .array(options.map(JSONValue.string))]
            if let timeout { object["timeout"] = .string(timeout) }
            if let defaultOption { object["default"] = .string(defaultOption) }
            return .object(object)
        case .globalArtifact(let name, let operation, let value):
            return ["name": .string(name), operation.rawValue: value]
        case .join(let values): return .object(values)
        }
    }
}
