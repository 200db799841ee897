/// A trigger: a long-running loop (a poller or a listener) that sends events, each of which starts workflows.
/// It runs until cancelled; its state survives restarts through `context.state`.
public protocol PluginTrigger: Sendable {
    associatedtype Connection: PluginConnection
    associatedtype Input: Decodable & Sendable
    /// One event, as the spec's trigger `output:` describes it.
    associatedtype Output: Encodable & Sendable

    static var name: String { get }

    /// Runs until the task is cancelled (return then) or the trigger cannot go on (throw).
    func run(_ input: Input, context: TriggerContext<Connection, Output>) async throws

    /// What is wrong with an input that fits the schema but not the trigger (a number out of range): workflow
    /// validation reports these, so that such a trigger is not started (and restarted) only to fail. None by
    /// default.
    static func problems(in input: Input) -> [InputProblem]
}

extension PluginTrigger {
    public static func problems(in input: Input) -> [InputProblem] { [] }
}
