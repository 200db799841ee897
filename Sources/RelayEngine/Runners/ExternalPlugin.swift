import RelayCore

/// How to start an external plugin: any executable that speaks InsightConnect's v1 protocol (a Python plugin built
/// on `insightconnect-plugin-runtime`, or a Relay plugin executable).
public struct ExternalPlugin: Sendable, Equatable {
    /// The program, and the arguments that come before the command (`run`, `test`, `http`): for a Python plugin,
    /// `["/venv/bin/python", "bin/my_plugin"]`.
    public var command: [String]
    /// The child's whole environment. Nothing is inherited: secrets in Relay's own environment never reach a
    /// plugin by accident.
    public var environment: [String: String]
    public var workingDirectory: String?

    public init(
        command: [String], environment: [String: String] = ExternalPlugin.minimalEnvironment,
        workingDirectory: String? = nil
    ) {
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// `PATH`, `LANG` and `HOME` only.
    public static let minimalEnvironment: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
    ]
}

/// Runs steps of an external plugin. Every failure (the program cannot start, crashes, hangs past the deadline,
/// prints garbage or nothing) is an error event that says what happened; a runner never throws and never hangs.
/// A task pass is a step like any other for an external plugin (`<command> run` with a `task_start` message, or
/// `POST /api/v1/tasks/NAME`).
public protocol PluginRunner: PluginExecutor {}

extension PluginRunner {
    public func runTask(_ start: StepStart, timeout: Duration) async -> StepEvent {
        await run(start, timeout: timeout)
    }

    public func shutdown() async {}
}
