import Logging
import RelayCore
import RelaySpec

/// A plugin: its spec, its connection type and its actions, triggers and tasks, erased to JSON so that any host
/// (the plugin's own executable, its HTTP server, Relay's workers) runs them the same way.
///
/// ```swift
/// let plugin = try Plugin(specYAML: spec, connection: NoConnection.self,
///                         actions: [.init(Encode()), .init(Decode())])
/// ```
public struct Plugin: Sendable {
    public let spec: PluginSpec
    /// The generated schemas, in the reference layout.
    public let schemas: JSONValue
    let connector: Connector
    let actions: [String: ActionHandler]
    let triggers: [String: TriggerHandler]
    let triggerChecks: [String: TriggerInputCheck]
    let tasks: [String: TaskHandler]
    /// A validator for each of `schemas`' non-empty schemas, compiled once (`validator(_:_:_:)`).
    let validators: [SchemaPart: SchemaValidator]

    public var name: String { spec.name }
    public var version: String { spec.version ?? "0.0.0" }
    public var actionNames: [String] { spec.actions.map(\.name).filter { actions[$0] != nil } }
    public var triggerNames: [String] { spec.triggers.map(\.name).filter { triggers[$0] != nil } }
    public var taskNames: [String] { spec.tasks.map(\.name).filter { tasks[$0] != nil } }
    public var hasConnectionTest: Bool { connector.test != nil }

    /// Builds a plugin from its spec text and implementations. Every implementation must be declared in the spec;
    /// every action of the spec must be implemented.
    public init<C: PluginConnection>(
        specYAML: String, file: String = "plugin.spec.yaml", connection: C.Type,
        actions: [AnyAction<C>] = [], triggers: [AnyTrigger<C>] = [], tasks: [AnyTask<C>] = []
    ) throws {
        let spec = try PluginSpec.decode(yaml: specYAML, file: file)
        self.spec = spec
        self.schemas = try SchemaGenerator(spec: spec).document()
        self.validators = SchemaPart.validators(of: schemas)
        self.connector = Connector(C.self)
        var actionTable: [String: ActionHandler] = [:]
        for action in actions {
            guard spec.action(named: action.name) != nil else {
                throw RelayError(
                    .invalidSpec,
                    "\(file): the plugin implements action '\(action.name)', which its spec does not declare")
            }
            actionTable[action.name] = action.handler
        }
        for declared in spec.actions where actionTable[declared.name] == nil {
            throw RelayError(
                .invalidSpec, "\(file):\(declared.line): action '\(declared.name)' is declared but not implemented")
        }
        var triggerTable: [String: TriggerHandler] = [:]
        var checkTable: [String: TriggerInputCheck] = [:]
        for trigger in triggers {
            guard spec.trigger(named: trigger.name) != nil else {
                throw RelayError(
                    .invalidSpec,
                    "\(file): the plugin implements trigger '\(trigger.name)', which its spec does not declare")
            }
            triggerTable[trigger.name] = trigger.handler
            checkTable[trigger.name] = trigger.problems
        }
        var taskTable: [String: TaskHandler] = [:]
        for task in tasks {
            guard spec.task(named: task.name) != nil else {
                throw RelayError(
                    .invalidSpec, "\(file): the plugin implements task '\(task.name)', which its spec does not declare")
            }
            taskTable[task.name] = task.handler
        }
        self.actions = actionTable
        self.triggers = triggerTable
        self.triggerChecks = checkTable
        self.tasks = taskTable
    }

    /// What is wrong with `input` for the trigger `name` beyond its schema (see `PluginTrigger.problems(in:)`).
    public func problems(inTriggerInput input: JSONValue, trigger name: String) -> [InputProblem] {
        triggerChecks[name]?(input) ?? []
    }

    func schema(_ kind: String, _ name: String, _ part: String) -> JSONValue {
        schemas[kind]?[name]?[part] ?? [:]
    }

    var connectionSchema: JSONValue { schemas["connection"] ?? [:] }

    /// The validator of `part` of the action, trigger or task `name` (`kind`: "actions", "triggers", "tasks"), with
    /// the runtime's rules for it (`.input` for an input); nil when its schema is empty or absent.
    func validator(_ kind: String, _ name: String, _ part: String) -> SchemaValidator? {
        validators[SchemaPart(kind: kind, name: name, part: part)]
    }

    var connectionValidator: SchemaValidator? { validators[SchemaPart(kind: "connection", name: "", part: "")] }
}

/// Where a schema is in the generated document: `connection`, or `kind.name.part`.
struct SchemaPart: Hashable, Sendable {
    var kind: String
    var name: String
    var part: String

    /// The validators of every non-empty schema of `document`.
    static func validators(of document: JSONValue) -> [SchemaPart: SchemaValidator] {
        var validators: [SchemaPart: SchemaValidator] = [:]
        func add(_ schema: JSONValue, at place: SchemaPart) {
            guard schema != [:] else { return }
            validators[place] = SchemaValidator(schema: schema, options: place.part == "input" ? .input : .standard)
        }
        if let connection = document["connection"] {
            add(connection, at: SchemaPart(kind: "connection", name: "", part: ""))
        }
        for kind in ["actions", "triggers", "tasks"] {
            for (name, parts) in document[kind]?.objectValue ?? [:] {
                for (part, schema) in parts.objectValue ?? [:] {
                    add(schema, at: SchemaPart(kind: kind, name: name, part: part))
                }
            }
        }
        return validators
    }
}

/// The connection type, erased.
struct Connector: Sendable {
    let connect: @Sendable (JSONValue, ConnectionContext) async throws -> any Sendable
    let test: (@Sendable (any Sendable, ConnectionContext) async throws -> JSONValue)?

    init<C: PluginConnection>(_ type: C.Type) {
        connect = { parameters, context in
            let decoded: C.Parameters
            do {
                decoded = try JSONValueCoder.decode(C.Parameters.self, from: parameters)
            } catch {
                throw StepFailure.client(
                    "connection parameters do not fit the plugin: \(DecodingMessage.describe(error))")
            }
            return try await C.connect(decoded, context: context)
        }
        if let testable = type as? any TestableConnection.Type {
            test = { connection, context in try await Connector.runTest(testable, connection, context) }
        } else {
            test = nil
        }
    }

    private static func runTest<T: TestableConnection>(
        _ type: T.Type, _ connection: any Sendable, _ context: ConnectionContext
    ) async throws -> JSONValue {
        guard let typed = connection as? T else { throw StepFailure.server("connection of an unexpected type") }
        return try await typed.test(context: context)
    }
}
