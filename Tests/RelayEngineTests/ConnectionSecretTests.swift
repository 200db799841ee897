import Foundation
import RelayCore
import RelayPlugins
import RelaySDK
import RelaySpec
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// A plugin whose action repeats its connection's password everywhere it can: output, log, error.
enum VaultPlugin {
    static let spec = """
        name: vault
        title: Vault
        description: Leaks its password on purpose
        version: 1.0.0
        vendor: rapid7
        connection:
          url: {type: string, required: true}
          password: {type: password, required: true}
        actions:
          leak:
            input:
              fail: {type: boolean, required: false}
            output:
              said: {type: string, required: true}
        """

    /// How many times `connect` ran, per url (tests running in parallel use urls of their own).
    static let connects = Mutex<[String: Int]>([:])

    static func connectCount(_ url: String) -> Int { connects.withLock { $0[url] ?? 0 } }

    struct Connection: PluginConnection {
        struct Parameters: Decodable, Sendable {
            var url: String
            var password: String
        }
        let password: String
        static func connect(_ parameters: Parameters, context: ConnectionContext) async throws -> Connection {
            VaultPlugin.connects.withLock { $0[parameters.url, default: 0] += 1 }
            if parameters.url == "down" {
                throw PluginError(cause: "Cannot reach the vault at down.", assistance: "Check the connection's url.")
            }
            return Connection(password: parameters.password)
        }
    }

    struct Leak: PluginAction {
        static let name = "leak"
        struct Input: Decodable, Sendable { var fail: Bool? }
        struct Output: Encodable, Sendable { var said: String }
        func run(_ input: Input, context: StepContext<Connection>) async throws -> Output {
            context.logger.info("using password \(context.connection.password)")
            if input.fail == true {
                throw PluginError(cause: "The vault refused \(context.connection.password).", assistance: "Rotate it.")
            }
            return Output(said: "the password is \(context.connection.password)")
        }
    }

    static func plugin() throws -> Plugin {
        try Plugin(specYAML: spec, connection: Connection.self, actions: [.init(Leak())])
    }

    static func catalog() throws -> PluginCatalog {
        var plugins = try NativePlugins.all()
        plugins["vault"] = try plugin()
        return PluginCatalog(native: plugins)
    }
}

/// A step's result is masked once, by the catalog entry, whatever runs the plugin (the worker and `relay connections
/// test` both call `Entry.run`). A secret made of asterisks shows how often: masked twice, each `****` of the first
/// `********` would be masked again.
@Suite struct MaskedOnceTests {
    static let connection: JSONValue = ["url": "https://vault-once", "password": "****"]

    @Test func aNativePluginsResultIsMaskedOnce() async throws {
        let entry = try #require(try VaultPlugin.catalog()["vault"])
        let event = await entry.run(
            StepStart(step: .action("leak"), input: [:], connection: Self.connection), timeout: .seconds(300))
        #expect(event.output == ["said": "the password is ********"], "\(event.error ?? "")")
        #expect(event.log.contains("using password ********\n"), "\(event.log)")
        let failed = await entry.run(
            StepStart(step: .action("leak"), input: ["fail": true], connection: Self.connection), timeout: .seconds(300)
        )
        #expect(failed.exception?.cause == "The vault refused ********.")
    }

    @Test func anExternalPluginsResultIsMasked() async throws {
        let plugin = try VaultPlugin.plugin()
        let envelope =
            #"{"version": "v1", "type": "action_event", "body": {"status": "ok", "#
            + #""output": {"said": "the password is hunter22"}, "log": "hunter22 and ****"}}"#
        let entry = PluginCatalog.Entry(
            spec: plugin.spec, schemas: plugin.schemas,
            executor: ProcessPluginRunner(plugin: TestPlugins.shell("cat >/dev/null; echo '\(envelope)'")))
        for (password, log) in [("hunter22", "******** and ****"), ("****", "hunter22 and ********")] {
            let connection: JSONValue = ["url": "https://vault", "password": .string(password)]
            let event = await entry.run(
                StepStart(step: .action("leak"), input: [:], connection: connection), timeout: .seconds(300))
            #expect(event.status == .ok, "\(event.error ?? "")")
            #expect(event.log == log)
            if password == "hunter22" { #expect(event.output == ["said": "the password is ********"]) }
        }
    }
}

@Suite struct SealedSecretTests {
    let key = MasterKey.generate(source: "test")

    @Test func aSealedValueOpensOnlyWithItsKeyAndField() throws {
        let sealed = try SealedSecret.seal(["secretKey": "k-0123456789"], field: "api_key", key: key)
        #expect(sealed.hasPrefix("relay-secret:v1:\(key.id):"))
        #expect(!sealed.contains("k-0123456789"))
        #expect(try SealedSecret.open(sealed, field: "api_key", key: key, place: "p") == ["secretKey": "k-0123456789"])
        let other = MasterKey.generate(source: "RELAY_MASTER_KEY")
        #expect(throws: RelayError.self) {
            try SealedSecret.open(sealed, field: "api_key", key: other, place: "c.yaml:3: parameters.api_key")
        }
        do {
            _ = try SealedSecret.open(sealed, field: "api_key", key: other, place: "c.yaml:3: parameters.api_key")
        } catch let error as RelayError {
            #expect(
                error.message
                    == "c.yaml:3: parameters.api_key: encrypted under master key \(key.id), but the master "
                    + "key from RELAY_MASTER_KEY is \(other.id): wrong key"
            )
        }
        do { _ = try SealedSecret.open(sealed, field: "api_key", key: nil, place: "p") } catch let error as RelayError {
            #expect(
                error.message.hasPrefix(
                    "p: encrypted under master key \(key.id), but no master key is set: set RELAY_MASTER_KEY"))
        }
        // Moved to another field, or altered: it does not open.
        #expect(throws: RelayError.self) { try SealedSecret.open(sealed, field: "password", key: key, place: "p") }
        var altered = Array(sealed)
        altered[altered.count - 5] = altered[altered.count - 5] == "A" ? "B" : "A"
        #expect(throws: RelayError.self) {
            try SealedSecret.open(String(altered), field: "api_key", key: key, place: "p")
        }
    }

    @Test func aMasterKeyComesFromTheEnvironmentOrAFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-key-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("master.key").path
        #expect(try MasterKey.load(defaultFile: file, environment: [:]) == nil)
        try key.write(to: file)
        #expect(try MasterKey.load(defaultFile: file, environment: [:])?.id == key.id)
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)
        let fromEnvironment = MasterKey.generate(source: "x")
        #expect(
            try MasterKey.load(defaultFile: file, environment: ["RELAY_MASTER_KEY": fromEnvironment.base64])?.id
                == fromEnvironment.id)
        #expect(throws: RelayError.self) {
            try MasterKey.load(defaultFile: file, environment: ["RELAY_MASTER_KEY": "c2hvcnQ="])
        }
    }

    @Test func secretFieldsComeFromTheConnectionSchema() throws {
        let catalog = try VaultPlugin.catalog()
        #expect(ConnectionFile.secretFields(schema: catalog["vault"]!.schemas["connection"]!) == ["password"])
        #expect(ConnectionFile.secretFields(schema: catalog["hello"]!.schemas["connection"]!) == ["api_key"])
    }
}

@Suite struct ConnectionStoreTests {
    func withProject(_ body: (URL, PluginCatalog, MasterKey) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-connections-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await body(directory, try VaultPlugin.catalog(), MasterKey.generate(source: "test"))
    }

    @Test func aConnectionIsStoredSealedAndLoadedOpen() async throws {
        try await withProject { directory, catalog, key in
            let path = directory.appendingPathComponent("prod.yaml").path
            try ConnectionFile.write(
                .init(
                    name: "prod", plugin: "vault", parameters: ["url": "https://v", "password": "hunter2-hunter2"],
                    secretFields: ["password"]), to: path, key: key)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!text.contains("hunter2"))
            let store = try ConnectionStore(directory: directory.path, catalog: catalog, key: key)
            #expect(try store.parameters("prod") == ["url": "https://v", "password": "hunter2-hunter2"])
            #expect(throws: RelayError.self) { try store.parameters("nope") }
        }
    }

    @Test func aSecretInClearOrAMismatchIsRefusedWithoutShowingIt() async throws {
        try await withProject { directory, catalog, key in
            try "plugin: vault\nparameters:\n  url: https://v\n  password: hunter2-hunter2\n"
                .write(to: directory.appendingPathComponent("clear.yaml"), atomically: true, encoding: .utf8)
            try ConnectionFile.write(
                .init(
                    name: "typo", plugin: "vault", parameters: ["url": 7, "password": "hunter2-hunter2"],
                    secretFields: ["password"]), to: directory.appendingPathComponent("typo.yaml").path, key: key)
            do {
                _ = try ConnectionStore(directory: directory.path, catalog: catalog, key: key)
                Issue.record("loaded")
            } catch let error as RelayError {
                #expect(
                    error.message.contains(
                        "clear.yaml:4: parameters.password: a secret stored in clear; store it encrypted "
                            + "with relay connections add clear --plugin vault --force"
                    ))
                #expect(
                    error.message.contains(
                        "typo.yaml: connection typo does not match the vault plugin's connection schema: "
                            + "parameters.url: expected string, found integer"
                    ))
                #expect(!error.message.contains("hunter2"))
            }
        }
    }

    @Test func aChangedFileIsReadAgainAtItsNextUse() async throws {
        try await withProject { directory, catalog, key in
            let path = directory.appendingPathComponent("prod.yaml").path
            try ConnectionFile.write(
                .init(
                    name: "prod", plugin: "vault", parameters: ["url": "https://a", "password": "first-password"],
                    secretFields: ["password"]), to: path, key: key)
            try backdate(path)
            let store = try ConnectionStore(directory: directory.path, catalog: catalog, key: key)
            #expect(try store.parameters("prod")["url"] == "https://a")
            try ConnectionFile.write(
                .init(
                    name: "prod", plugin: "vault", parameters: ["url": "https://b", "password": "second-password"],
                    secretFields: ["password"]), to: path, key: key)
            #expect(try store.parameters("prod") == ["url": "https://b", "password": "second-password"])
        }
    }
}

/// Secrets never leave the worker in clear, whatever the plugin does with them; a connection is made once and
/// reused; a failing connect is a clear error for the job.
@Suite(.serialized) struct WorkerConnectionTests {
    static let password = "pa55-WORD-never-in-clear"

    func pipeline(url: String = "https://vault") throws -> (TestPipeline, URL, MasterKey) {
        let key = MasterKey.generate(source: "test")
        let connections = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-vault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: connections, withIntermediateDirectories: true)
        try ConnectionFile.write(
            .init(
                name: "vault", plugin: "vault", parameters: ["url": .string(url), "password": .string(Self.password)],
                secretFields: ["password"]), to: connections.appendingPathComponent("vault.yaml").path, key: key)
        try backdate(connections.appendingPathComponent("vault.yaml").path)
        let catalog = try VaultPlugin.catalog()
        let store = try ConnectionStore(directory: connections.path, catalog: catalog, key: key)
        let pipeline = try TestPipeline(
            workflows: [
                """
                name: leaky
                \(PipelineTests.manual)steps:
                  - {id: out, plugin: vault, action: leak, connection: vault, input: {}}
                  - {id: err, plugin: vault, action: leak, connection: vault, input: {fail: true},
                     continue_on_failure: true}
                """
            ], catalog: ["vault": catalog["vault"]!], connections: store)
        return (pipeline, connections, key)
    }

    @Test func secretsAreMaskedAndNeverReachTheRunStore() async throws {
        let (pipeline, connections, _) = try pipeline()
        defer { try? FileManager.default.removeItem(at: connections) }
        for _ in 0..<3 { try await pipeline.publish(["n": 1]) }
        let runs = try await pipeline.finishedRuns(3)
        let run = try #require(runs.first)
        #expect(run["steps"]?.arrayValue?.first?["output"] == ["said": "the password is ********"])
        #expect(run["steps"]?.arrayValue?.last?["exception"]?["cause"] == "The vault refused ********.")
        // The plugin's log travels with its result (here decided in the job's transaction, not through the results
        // topic) into the run store, masked.
        let logs = runs.flatMap { $0["steps"]?.arrayValue ?? [] }.map { $0["log"]?.stringValue ?? "" }
        #expect(logs.count == 6 && logs.allSatisfy { $0.contains("using password ********") }, "\(logs)")
        var bytes: [UInt8] = []
        for suffix in ["", "-wal", "-shm"] {
            bytes +=
                (try? Data(contentsOf: pipeline.directory.appendingPathComponent("relay.sqlite" + suffix))).map(
                    Array.init) ?? []
        }
        #expect(!bytes.isEmpty)
        #expect(!containsBytes(bytes, Array(Self.password.utf8)), "the secret is in the SQLite file")
        #expect(!containsBytes(bytes, Array("pa55-WORD".utf8)))
        await pipeline.stop()
    }

    @Test func aConnectionIsMadeOnceAndAgainWhenItChanges() async throws {
        let first = "https://vault-\(UUID().uuidString)"
        let second = "https://vault-\(UUID().uuidString)"
        let (pipeline, connections, key) = try pipeline(url: first)
        defer { try? FileManager.default.removeItem(at: connections) }
        for _ in 0..<5 { try await pipeline.publish(["n": 1]) }
        _ = try await pipeline.finishedRuns(5)
        #expect(VaultPlugin.connectCount(first) == 1, "ten jobs, one connect")
        try ConnectionFile.write(
            .init(
                name: "vault", plugin: "vault",
                parameters: ["url": .string(second), "password": .string(Self.password)],
                secretFields: ["password"]), to: connections.appendingPathComponent("vault.yaml").path, key: key)
        try await pipeline.publish(["n": 2])
        _ = try await pipeline.finishedRuns(6)
        #expect(VaultPlugin.connectCount(second) == 1, "a changed connection connects again, once")
        #expect(VaultPlugin.connectCount(first) == 1)
        await pipeline.stop()
    }

    @Test func aFailingConnectIsAnErrorForTheJob() async throws {
        let (pipeline, connections, _) = try pipeline(url: "down")
        defer { try? FileManager.default.removeItem(at: connections) }
        try await pipeline.publish(["n": 1])
        let run = try #require(try await pipeline.finishedRuns(1).first)
        #expect(run["status"] == "failed")
        #expect(run["steps"]?.arrayValue?.first?["exception"]?["cause"] == "Cannot reach the vault at down.")
        // The worker is still there: the next event is handled too.
        try await pipeline.publish(["n": 2])
        #expect(try await pipeline.finishedRuns(2).count == 2)
        await pipeline.stop()
    }
}

/// Dates a file an hour back, so that a rewrite now has another modification time even where the filesystem
/// keeps them to the second (set, not waited for).
func backdate(_ path: String) throws {
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
}
