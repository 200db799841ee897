import RelayCore

/// A plugin's connection: what it authenticates with and the clients it shares between steps. Relay connects once
/// per distinct set of parameters and reuses the connection across jobs.
public protocol PluginConnection: Sendable {
    /// The connection's parameters, as the spec's `connection:` section describes them.
    associatedtype Parameters: Decodable & Sendable

    /// Creates the connection: check parameters, build clients. Throw `PluginError` for a clear failure.
    static func connect(_ parameters: Parameters, context: ConnectionContext) async throws -> Self
}

/// A connection that can test itself (InsightConnect's connection test). Plugins without it answer "not
/// implemented" to a connection test, as the runtime does.
public protocol TestableConnection: PluginConnection {
    /// Returns a JSON value describing success (the runtime's convention is `{"success": true}`), or throws a
    /// `PluginError` (shaped like ConnectionTestException) saying what is wrong and what to do.
    func test(context: ConnectionContext) async throws -> JSONValue
}

/// The connection of a plugin that has none.
public struct NoConnection: PluginConnection {
    public struct Parameters: Decodable, Sendable {}
    public init() {}
    public static func connect(_ parameters: Parameters, context: ConnectionContext) async throws -> NoConnection {
        NoConnection()
    }
}
