import Foundation

/// A step the dispatcher decides itself, without a plugin or a worker: a document kept with the run (`artifact`),
/// a regular expression over a text (`match`), a path that goes on only when a condition holds (`filter`), leaving a
/// loop (`break`), a question for a person (`decision`), a named list kept across runs (`global_artifact`), or values
/// taken from whichever path reached a join (`join`).
/// InsightConnect's step types of the same names; `docs/pipeline.md` (*Built-in steps*) says what each does.
public enum BuiltinStep: Sendable, Equatable {
    case artifact(ArtifactStep)
    case match(MatchStep)
    /// Goes on along this path only when the condition holds (else the step is skipped, and what needs it).
    case filter(Condition)
    /// Ends the run here, successfully, when the condition holds (nil: always); a loop's item that breaks starts
    /// no further items.
    case breakLoop(Condition?)
    case decision(DecisionStep)
    case globalArtifact(GlobalArtifactStep)
    case join(JoinStep)

    /// The key it is written with in a workflow file.
    public var key: String {
        switch self {
        case .artifact: "artifact"
        case .match: "match"
        case .filter: "filter"
        case .breakLoop: "break"
        case .decision: "decision"
        case .globalArtifact: "global_artifact"
        case .join: "join"
        }
    }

    /// The keys of the built-in steps.
    public static let keys = ["artifact", "match", "filter", "break", "decision", "global_artifact", "join"]

    /// Every template the step renders (value templates and text templates), for checking workflows before they
    /// run, and every condition it evaluates.
    public var templates: [JSONValue] {
        switch self {
        case .artifact(let artifact): [.string(artifact.content)]
        case .match(let match): [.string(match.text)]
        case .filter, .breakLoop: []
        case .decision(let decision): [.string(decision.question)]
        case .globalArtifact(let global):
            switch global.operation {
            case .lookup(let fields): [fields]
            case .append(let entry): [entry]
            }
        case .join(let join): join.values.flatMap { $0.paths.map(\.template) }
        }
    }

    /// Every reference the step reads: in its value templates, its text templates and its condition.
    public func references() throws(TemplateError) -> [[String]] {
        var all: [[String]] = condition?.references ?? []
        switch self {
        case .artifact(let artifact): all += try TextTemplate(artifact.content).references
        case .decision(let decision): all += try TextTemplate(decision.question).references
        default: for template in templates { all += try Template.references(in: template) }
        }
        return all
    }

    public var condition: Condition? {
        switch self {
        case .filter(let condition): condition
        case .breakLoop(let condition): condition
        default: nil
        }
    }
}

/// `artifact: {name, format, content}`: `content` is a text template rendered when the step runs; the document is
/// kept with the run and is the step's output (`{name, format, content}`).
public struct ArtifactStep: Sendable, Equatable {
    public var name: String
    /// `markdown`, `html` or `text`.
    public var format: String
    public var content: String

    public static let formats = ["markdown", "html", "text"]
    /// The most characters an artifact's rendered content may have (what the run store keeps).
    public static let maximumContent = 1 << 20

    public init(name: String, format: String = "markdown", content: String) {
        self.name = name
        self.format = format
        self.content = content
    }
}

/// `match: {text, pattern, ignore_case, all}`: the step's output is `matched` (whether the pattern matched) and
/// each named group's capture (`all`: every match's, as an array).
public struct MatchStep: Sendable, Equatable {
    /// A value template that renders to the text to search.
    public var text: String
    public var pattern: String
    public var ignoreCase: Bool
    public var all: Bool
    /// The pattern's named groups (`(?<host>…)`), in the order written.
    public var groups: [String]

    /// The longest pattern.
    public static let maximumPattern = 4096
    /// The longest text searched (UTF-16 code units, as NSRegularExpression counts).
    public static let maximumText = 1 << 20

    public init(text: String, pattern: String, ignoreCase: Bool = false, all: Bool = false) throws(TemplateError) {
        guard pattern.utf8.count <= Self.maximumPattern else {
            throw TemplateError(
                message: "the pattern has \(pattern.utf8.count) bytes, more than \(Self.maximumPattern)")
        }
        do {
            _ = try NSRegularExpression(pattern: pattern)
        } catch {
            throw TemplateError(message: "\"\(pattern)\" is not a regular expression (ICU syntax)")
        }
        self.text = text
        self.pattern = pattern
        self.ignoreCase = ignoreCase
        self.all = all
        groups = Self.groupNames(in: pattern)
        if groups.contains("matched") {
            throw TemplateError(
                message: "a group may not be named \"matched\": the output's matched says whether it did")
        }
    }

    /// The names of `(?<name>…)` groups in `pattern`, in order (a `\(` is not a group; `(?<=` and `(?<!` are
    /// look-behinds).
    static func groupNames(in pattern: String) -> [String] {
        let characters = Array(pattern)
        var names: [String] = []
        var index = 0
        var inClass = false
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                index += 2
                continue
            }
            if inClass {
                if character == "]" { inClass = false }
            } else if character == "[" {
                inClass = true
            } else if character == "(", index + 3 < characters.count, characters[index + 1] == "?",
                characters[index + 2] == "<", characters[index + 3].isLetter
            {
                var end = index + 3
                while end < characters.count, characters[end] != ">" { end += 1 }
                let name = String(characters[(index + 3)..<end])
                if !names.contains(name) { names.append(name) }
                index = end
            }
            index += 1
        }
        return names
    }
}

/// `decision: {question, options, timeout, default}`: the step waits for a person to pick one of `options`
/// (`relay runs answer`); past `timeout` it takes `default`, or fails without one.
public struct DecisionStep: Sendable, Equatable {
    /// A text template rendered when the step is reached.
    public var question: String
    public var options: [String]
    public var timeout: Duration?
    public var defaultOption: String?

    public init(question: String, options: [String], timeout: Duration? = nil, defaultOption: String? = nil) {
        self.question = question
        self.options = options
        self.timeout = timeout
        self.defaultOption = defaultOption
    }
}

/// `global_artifact: {name, lookup | append}`: reads or adds to a named list kept across runs.
public struct GlobalArtifactStep: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// A mapping of field → value template: the entries whose fields equal all of them.
        case lookup(JSONValue)
        /// A value template rendering to the entry to append.
        case append(JSONValue)
    }

    public var name: String
    public var operation: Operation

    public init(name: String, operation: Operation) {
        self.name = name
        self.operation = operation
    }
}

/// `join: {NAME: {NEED: TEMPLATE…}…}`: named values that depend on which path reached the join (InsightConnect's
/// join `variableSets`). For each value, the template of the first need, in the order written, that was not skipped
/// is rendered; when every one was skipped the value is null. The step's output is `{NAME: value…}`.
public struct JoinStep: Sendable, Equatable {
    /// The template a value takes when the path through `need` reached the join.
    public struct Path: Sendable, Equatable {
        public var need: String
        /// A value template (as a step's `input`: strings hold references, anything else is kept as it is).
        public var template: JSONValue

        public init(need: String, template: JSONValue) {
            self.need = need
            self.template = template
        }
    }

    /// One value: its name and its paths, in the order written.
    public struct Value: Sendable, Equatable {
        public var name: String
        public var paths: [Path]

        public init(name: String, paths: [Path]) {
            self.name = name
            self.paths = paths
        }
    }

    /// The values, in the order written.
    public var values: [Value]

    public init(values: [Value]) {
        self.values = values
    }
}
