import Logging
import RelayCore

typealias ActionHandler = @Sendable (JSONValue, any Sendable, StepContextValues) async throws -> JSONValue
typealias TriggerHandler =
    @Sendable (
        JSONValue, any Sendable, StepContextValues, TriggerState, WebhookInbox?,
        @escaping @Sendable (JSONValue) async throws -> Void
    ) async throws -> Void
typealias TriggerInputCheck = @Sendable (JSONValue) -> [InputProblem]
typealias TaskHandler = @Sendable (JSONValue, JSONValue?, any Sendable, StepContextValues) async throws -> TaskOutcome

/// The untyped parts of a step context.
struct StepContextValues: Sendable {
    var logger: Logger
    var deadline: ContinuousClock.Instant?
    var meta: JSONValue
}

struct TaskOutcome: Sendable {
    var events: JSONValue
    var state: JSONValue
    var hasMorePages: Bool
    var statusCode: Int?
}

/// An action of a plugin whose connection is `C`, erased to JSON in and out.
public struct AnyAction<C: PluginConnection>: Sendable {
    let name: String
    let handler: ActionHandler

    public init<A: PluginAction>(_ action: A) where A.Connection == C {
        name = A.name
        handler = { input, connection, values in
            let typedInput: A.Input = try decodeInput(A.Input.self, input)
            let context = StepContext(
                connection: try cast(connection, to: C.self), logger: values.logger, deadline: values.deadline,
                meta: values.meta)
            return try JSONValueCoder.encode(try await action.run(typedInput, context: context))
        }
    }
}

/// A trigger of a plugin whose connection is `C`.
public struct AnyTrigger<C: PluginConnection>: Sendable {
    let name: String
    let handler: TriggerHandler
    let problems: TriggerInputCheck

    public init<T: PluginTrigger>(_ trigger: T) where T.Connection == C {
        name = T.name
        // An input that does not decode has no problems of this kind: schema validation reports it.
        problems = { input in (try? JSONValueCoder.decode(T.Input.self, from: input)).map(T.problems(in:)) ?? [] }
        handler = { input, connection, values, state, webhook, sink in
            let typedInput: T.Input = try decodeInput(T.Input.self, input)
            let step = StepContext(
                connection: try cast(connection, to: C.self), logger: values.logger, deadline: values.deadline,
                meta: values.meta)
            try await trigger.run(
                typedInput, context: TriggerContext(step: step, state: state, webhook: webhook, sink: sink))
        }
    }
}

/// A task of a plugin whose connection is `C`.
public struct AnyTask<C: PluginConnection>: Sendable {
    let name: String
    let handler: TaskHandler

    public init<T: PluginTask>(_ task: T) where T.Connection == C {
        name = T.name
        handler = { input, state, connection, values in
            let typedInput: T.Input = try decodeInput(T.Input.self, input)
            var typedState: T.State?
            if let state, !state.isNull, state != [:] {
                do {
                    typedState = try JSONValueCoder.decode(T.State.self, from: state)
                } catch {
                    throw StepFailure.client("task state does not fit the task: \(DecodingMessage.describe(error))")
                }
            }
            let context = StepContext(
                connection: try cast(connection, to: C.self), logger: values.logger, deadline: values.deadline,
                meta: values.meta)
            let result = try await task.run(typedInput, state: typedState, context: context)
            return TaskOutcome(
                events: try JSONValueCoder.encode(result.events), state: try JSONValueCoder.encode(result.state),
                hasMorePages: result.hasMorePages, statusCode: result.statusCode)
        }
    }
}

private func decodeInput<T: Decodable>(_ type: T.Type, _ input: JSONValue) throws -> T {
    do {
        return try JSONValueCoder.decode(type, from: input)
    } catch {
        throw StepFailure.client("input does not fit the step: \(DecodingMessage.describe(error))")
    }
}

private func cast<C>(_ connection: any Sendable, to type: C.Type) throws -> C {
    guard let typed = connection as? C else { throw StepFailure.server("connection of an unexpected type") }
    return typed
}

/// Readable text for `DecodingError`s: `input.urls[2]: expected String`.
enum DecodingMessage {
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = "input"
            for key in codingPath {
                if let index = key.intValue { text += "[\(index)]" } else { text += "." + key.stringValue }
            }
            return text
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
