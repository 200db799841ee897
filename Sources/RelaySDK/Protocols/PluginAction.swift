/// An action: a short step, typed input to typed output.
public protocol PluginAction: Sendable {
    associatedtype Connection: PluginConnection
    associatedtype Input: Decodable & Sendable
    associatedtype Output: Encodable & Sendable

    /// The action's name in the spec.
    static var name: String { get }

    /// Runs the action. Throw `PluginError` for failures the user should read; anything else is reported as an
    /// unexpected error.
    func run(_ input: Input, context: StepContext<Connection>) async throws -> Output
}
