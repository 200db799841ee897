import RelayCore
import RelaySDK
import RelayTestSupport
import Synchronization
import Testing

/// The plugin host caches a client per connection; when a connection is replaced (same name, new parameters), the
/// old client is dropped instead of kept for the life of the process.
@Suite struct PluginHostConnectionTests {
    /// Counts clients made and released, by token.
    enum Clients {
        static let made = Mutex<[String]>([])
        static let released = Mutex<[String]>([])
    }

    final class Client: PluginConnection {
        struct Parameters: Decodable, Sendable { var token: String }
        let token: String
        init(token: String) { self.token = token }
        deinit { Clients.released.withLock { $0.append(token) } }
        static func connect(_ parameters: Parameters, context: ConnectionContext) async throws -> Client {
            Clients.made.withLock { $0.append(parameters.token) }
            return Client(token: parameters.token)
        }
    }

    struct Whoami: PluginAction {
        typealias Connection = Client
        static let name = "whoami"
        struct Input: Decodable, Sendable {}
        struct Output: Encodable, Sendable { var token: String }
        func run(_ input: Input, context: StepContext<Client>) async throws -> Output {
            // Upper-cased: the host masks the connection's own values in outputs.
            Output(token: context.connection.token.uppercased())
        }
    }

    static let spec = """
        name: replaced
        title: Replaced
        description: Reports its connection
        version: 1.0.0
        vendor: rapid7
        connection:
          token: {type: string, required: true}
        actions:
          whoami:
            output:
              token: {type: string, required: true}
        """

    @Test func aReplacedConnectionsClientIsDropped() async throws {
        let plugin = try Plugin(specYAML: Self.spec, connection: Client.self, actions: [.init(Whoami())])
        let host = PluginHost(plugin: plugin)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let (old, new) = ("old-\(suffix)", "new-\(suffix)")
        func run(_ token: String) async -> String? {
            let start = StepStart(
                step: .action("whoami"), input: [:], connection: ["token": .string(token)],
                meta: ["connection": "crm"])
            let event = await host.run(start)
            return event.output?["token"]?.stringValue ?? event.error
        }
        let (first, second) = (await run(old), await run(old))
        #expect(first == old.uppercased())
        #expect(second == old.uppercased())
        #expect(Clients.made.withLock { $0.filter { $0 == old }.count } == 1, "one client per connection")
        let replaced = await run(new)
        #expect(replaced == new.uppercased(), "the connection named crm was replaced")
        #expect(
            await waitFor(seconds: 300) { Clients.released.withLock { $0.contains(old) } },
            "the old client was released")
        #expect(!Clients.released.withLock { $0.contains(new) })
        _ = host
    }
}
