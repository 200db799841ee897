import Logging
import RelayCore

/// What a step sees while it runs: its connection, a logger whose lines go into the step's `log`, its deadline,
/// and the message's `meta`. Cancellation is the task's: check `Task.isCancelled` or call
/// `try context.checkDeadline()` in long loops.
public struct StepContext<Connection: PluginConnection>: Sendable {
    public let connection: Connection
    public let logger: Logger
    /// When the step must be done; Relay cancels it then.
    public let deadline: ContinuousClock.Instant?
    /// The v1 message's `meta` (Relay puts its run, step and job ids there).
    public let meta: JSONValue

    public init(
        connection: Connection, logger: Logger, deadline: ContinuousClock.Instant? = nil, meta: JSONValue = .null
    ) {
        self.connection = connection
        self.logger = logger
        self.deadline = deadline
        self.meta = meta
    }

    /// Throws `CancellationError` when the step was cancelled or its deadline has passed.
    public func checkDeadline() throws {
        try Task.checkCancellation()
        if let deadline, ContinuousClock.now >= deadline { throw CancellationError() }
    }
}

/// What a connection sees while it connects or tests itself.
public struct ConnectionContext: Sendable {
    public let logger: Logger
    public init(logger: Logger) { self.logger = logger }
}
