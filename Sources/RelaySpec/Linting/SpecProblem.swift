import RelayCore

/// One rule a spec breaks, where.
public struct SpecProblem: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var rule: SpecRule
    public var message: String

    public init(file: String, line: Int, rule: SpecRule, message: String) {
        self.file = file
        self.line = line
        self.rule = rule
        self.message = message
    }

    /// `FILE:LINE: RULE: message`
    public var description: String { "\(file):\(line): \(rule.rawValue): \(message)" }

    public var json: JSONValue {
        ["file": .string(file), "line": .int(line), "rule": .string(rule.rawValue), "message": .string(message)]
    }
}

/// The rules `relay plugin validate` checks, named after InsightConnect's offline validators.
public enum SpecRule: String, Sendable, CaseIterable, Hashable {
    /// Unparseable YAML or a spec of the wrong shape.
    case syntax
    case requiredKeys = "required-keys"
    case specVersion = "spec-version"
    case allowedKeys = "allowed-keys"
    case requiredBoolean = "required-boolean"
    case description
    case title
    case vendor
    case support
    case version
    case tags
    case useCases = "use-cases"
    case name
    case example
    case enableCache = "enable-cache"
    case connectionPassword = "connection-password"
    case ascii
    case typeDefined = "type-defined"
    /// A key written twice in one mapping (PyYAML keeps the last value; so does Relay).
    case duplicateKey = "duplicate-key"
}
