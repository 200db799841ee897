import Foundation
import RelayCore
import RelaySDK
import RelaySpec

/// The plugins a pipeline can use: Relay's native ones (in-process) and external ones registered in the project
/// (`plugins/<name>.yaml`: the spec, the command, process-per-job or warm).
public struct PluginCatalog: Sendable {
    public struct Entry: Sendable {
        public var spec: PluginSpec
        public var schemas: JSONValue
        /// How the plugin's steps run (see `PluginExecutor` for what is and is not behind it).
        public var executor: any PluginExecutor

        public init(spec: PluginSpec, schemas: JSONValue, executor: any PluginExecutor) {
            self.spec = spec
            self.schemas = schemas
            self.executor = executor
        }

        /// Runs an action or the connection test and masks the connection's secrets in everything the plugin
        /// returned (output, state, log, error, exception): the one place where a step's result is masked, for the
        /// worker and `relay connections test` alike. With `handle`, in the caller's task, which it gives to the
        /// step (`StepTaskHandle`: the timeout cancels it).
        public func run(_ start: StepStart, timeout: Duration, runningIn handle: StepTaskHandle? = nil) async
            -> StepEvent
        {
            let event =
                if let handle {
                    await executor.run(start, timeout: timeout, runningIn: handle)
                } else {
                    await executor.run(start, timeout: timeout)
                }
            return event.masked(by: secretMasker(for: start.connection))
        }

        /// What masks the secrets of `connection` (this plugin's connection schema says which fields are secret).
        /// Trigger and task events are masked with it by the trigger host, as each is published.
        public func secretMasker(for connection: JSONValue) -> SecretMasker {
            // (A step without a connection, or with an empty one, has no secret: its schema is not walked.)
            if connection.isNull || connection.objectValue?.isEmpty == true { return SecretMasker(secrets: []) }
            return SecretMasker(schema: schemas["connection"] ?? [:], connection: connection)
        }
    }

    public var entries: [String: Entry]

    public init(entries: [String: Entry] = [:]) { self.entries = entries }

    public init(native plugins: [String: Plugin]) {
        var entries: [String: Entry] = [:]
        for (name, plugin) in plugins {
            entries[name] = Entry(
                spec: plugin.spec, schemas: plugin.schemas, executor: PluginHost(plugin: plugin, masksSecrets: false))
        }
        self.entries = entries
    }

    public subscript(name: String) -> Entry? { entries[name] }

    /// Adds the external plugins registered under `directory` (`*.yaml`, each `{spec, command, mode, environment}`).
    public mutating func registerExternal(in directory: String) throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            $0.hasSuffix(".yaml") || $0.hasSuffix(".yml")
        }.sorted()
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            let node = try YAMLDocument.parse(String(contentsOfFile: path, encoding: .utf8), file: path)
            guard let specPath = node["spec"]?.string else {
                throw RelayError(
                    .invalidSpec, "\(path):\(node.line): spec: expected the path of the plugin's plugin.spec.yaml")
            }
            guard let command = node["command"]?.sequence?.compactMap(\.string), !command.isEmpty else {
                throw RelayError(
                    .invalidSpec,
                    "\(path):\(node.line): command: expected the command as a list, e.g. [python3, bin/my_plugin]")
            }
            let base = (path as NSString).deletingLastPathComponent
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p) }
            let spec = try PluginSpec.load(path: resolve(specPath))
            var environment = ExternalPlugin.minimalEnvironment
            environment["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
            for entry in node["environment"]?.orderedEntries ?? [] {
                environment[entry.key] = entry.node.string ?? entry.node.text
            }
            let resolvedCommand = command.enumerated().map {
                $0.offset > 0 && ($0.element.hasPrefix("./") || $0.element.contains("/")) && !$0.element.hasPrefix("/")
                    ? resolve($0.element) : $0.element
            }
            let plugin = ExternalPlugin(
                command: resolvedCommand.first!.contains("/") && !resolvedCommand.first!.hasPrefix("/")
                    ? [resolve(resolvedCommand[0])] + resolvedCommand.dropFirst() : resolvedCommand,
                environment: environment, workingDirectory: base)
            let runner: any PluginRunner =
                node["mode"]?.string == "warm" ? WarmPluginRunner(plugin: plugin) : ProcessPluginRunner(plugin: plugin)
            entries[spec.name] = Entry(
                spec: spec, schemas: try SchemaGenerator(spec: spec).document(), executor: runner)
        }
    }
}
