/// An action, trigger or task of a plugin.
public struct ComponentSpec: Sendable {
    public enum Kind: String, Sendable {
        case action, trigger, task

        /// The spec's section for this kind: `actions`, `triggers`, `tasks`.
        public var section: String { rawValue + "s" }
    }

    public var kind: Kind
    public var name: String
    public var title: String?
    public var description: String?
    public var input: [FieldSpec]
    public var output: [FieldSpec]
    /// A task's state fields.
    public var state: [FieldSpec]
    /// A task's schedule (`type: cron`, `value: "*/5 * * * *"`).
    public var schedule: TaskSchedule?
    public var node: YAMLNode

    public var line: Int { node.line }
}

/// When a task runs.
public struct TaskSchedule: Sendable, Equatable {
    public var type: String
    public var value: String
}
