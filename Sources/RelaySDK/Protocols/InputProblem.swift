/// What is wrong with one input of a step, found before it runs: for limits a spec's schema cannot express (a
/// range, say). `relay workflow validate` reports it with the workflow's file and the input's key.
public struct InputProblem: Sendable, Equatable {
    /// The input's key, relative to the input (`seconds`, `filter.limit`).
    public var key: String
    /// What was expected and what was found.
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
}
