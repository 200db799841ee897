/// A task: a scheduled step that reads its previous state, returns events and the new state, and may say that
/// more pages are waiting (then it is run again straight away).
public protocol PluginTask: Sendable {
    associatedtype Connection: PluginConnection
    associatedtype Input: Decodable & Sendable
    associatedtype Output: Encodable & Sendable
    associatedtype State: Codable & Sendable

    static var name: String { get }

    /// `state` is nil on the first run.
    func run(_ input: Input, state: State?, context: StepContext<Connection>) async throws -> TaskResult<Output, State>
}

/// What one run of a task produced.
public struct TaskResult<Output: Encodable & Sendable, State: Codable & Sendable>: Sendable {
    public var events: [Output]
    public var state: State
    public var hasMorePages: Bool
    /// An HTTP-like status of the run (the runtime reports one for tasks); nil when not applicable.
    public var statusCode: Int?

    public init(events: [Output], state: State, hasMorePages: Bool = false, statusCode: Int? = nil) {
        self.events = events
        self.state = state
        self.hasMorePages = hasMorePages
        self.statusCode = statusCode
    }
}
