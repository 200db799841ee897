import RelayCore
import RelaySDK

/// How the engine runs the steps of one catalog entry, whatever the plugin is: in-process (`PluginHost`), a process
/// per step (`ProcessPluginRunner`) or a warm server (`WarmPluginRunner`). A new way to run plugins is a new
/// conformance; the worker, the trigger host and `relay connections test` call only this.
///
/// What is behind it: actions and connection tests (`run`), one pass of a task (`runTask`), and stopping what the
/// executor keeps running (`shutdown`). Every failure is an error event that says what happened; an executor never
/// throws and never runs past its timeout.
///
/// What is not: validation and masking. Inputs and outputs are validated against the spec where the plugin runs,
/// once, as the InsightConnect runtime does (by `PluginHost` for native plugins, by the plugin's own runtime for
/// external ones): the engine does not validate again. Connection secrets are masked once, by the catalog entry
/// (`PluginCatalog.Entry.run`, `Entry.secretMasker(for:)`), so executors leave them as they are (the catalog's hosts
/// are made with `masksSecrets: false`). Triggers are not behind it either: a native trigger needs the trigger
/// host's webhook inbox and state store, an external one a dispatcher URL and a process that lives as long as the
/// trigger, so the trigger host starts each kind itself (`PluginHost.runTrigger`, `ExternalTriggerProcess`).
public protocol PluginExecutor: Sendable {
    /// Runs an action (`.action`) or the connection test (`.connectionTest`), stopped at `timeout`.
    func run(_ start: StepStart, timeout: Duration) async -> StepEvent
    /// `run`, in the task of `handle` when the executor runs the plugin's code in-process (the caller gives that
    /// task to the step: the timeout cancels it, `StepTaskHandle`); others ignore the handle.
    func run(_ start: StepStart, timeout: Duration, runningIn handle: StepTaskHandle) async -> StepEvent
    /// Runs one pass of a task (`.task`): its events as `output`, its new state, `has_more_pages`.
    func runTask(_ start: StepStart, timeout: Duration) async -> StepEvent
    /// Stops whatever the executor keeps running (a warm plugin server and its process group).
    func shutdown() async
}

extension PluginExecutor {
    public func run(_ start: StepStart, timeout: Duration, runningIn handle: StepTaskHandle) async -> StepEvent {
        await run(start, timeout: timeout)
    }
}

extension PluginHost: PluginExecutor {
    public func run(_ start: StepStart, timeout: Duration) async -> StepEvent {
        await run(start, deadline: .now + timeout)
    }

    public func run(_ start: StepStart, timeout: Duration, runningIn handle: StepTaskHandle) async -> StepEvent {
        await run(start, deadline: .now + timeout, runningIn: handle)
    }

    public func runTask(_ start: StepStart, timeout: Duration) async -> StepEvent {
        await runTask(start, deadline: .now + timeout)
    }

    public func shutdown() async {}
}
