import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySDK
import RelaySpec

/// `relay connections add|list|show|test|remove|rotate-key`.
struct ConnectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "Named connections of the project; secrets encrypted at rest with the master key.",
        discussion: """
            The master key comes from RELAY_MASTER_KEY (base64 of 32 bytes), else the file named by \
            RELAY_MASTER_KEY_FILE, else DIR/.relay/master.key (created by the first `add` when none is set).
            """,
        subcommands: [
            ConnectionsAddCommand.self, ConnectionsListCommand.self, ConnectionsShowCommand.self,
            ConnectionsTestCommand.self, ConnectionsRemoveCommand.self, ConnectionsRotateKeyCommand.self,
        ])
}

/// What every connections command needs: the project's plugins and its key.
struct ConnectionsContext {
    let layout: ProjectLayout
    let catalog: PluginCatalog

    init(dir: String) throws {
        let layout = ProjectLayout(root: dir)
        var catalog = PluginCatalog(native: try NativePlugins.all())
        try CLIFailure.wrap { try catalog.registerExternal(in: layout.plugins) }
        self.layout = layout
        self.catalog = catalog
    }

    func key() throws -> MasterKey? { try CLIFailure.wrap { try MasterKey.load(defaultFile: layout.masterKey) } }

    func store() throws -> ConnectionStore {
        let key = try key()
        return try CLIFailure.wrap { try ConnectionStore(directory: layout.connections, catalog: catalog, key: key) }
    }

    func path(_ name: String) -> String { (layout.connections as NSString).appendingPathComponent("\(name).yaml") }
}

struct ConnectionsAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract:
            "Add a connection: validate it against the plugin's connection schema, encrypt its secrets, "
            + "write connections/NAME.yaml.",
        discussion:
            "Pass the parameters as JSON with --json, or on stdin (--json -) to keep secrets out of the shell history.")

    @Argument(help: "The connection's name (letters, digits, -, _).") var name: String
    @Option(help: "The plugin it is for.") var plugin: String
    @Option(help: "The parameters as a JSON object, or - to read them from stdin.") var json: String
    @Option(help: "The project directory.") var dir = "."
    @Flag(help: "Replace an existing connection of this name.") var force = false

    /// --json as a JSON object (read from stdin for -).
    func parameters() throws -> JSONValue {
        let text = json == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : json
        let parameters: JSONValue
        do {
            parameters = try JSONParser.parse(text)
        } catch {
            throw CLIFailure("--json: \(error)")
        }
        guard parameters.objectValue != nil else {
            throw CLIFailure("--json: expected a JSON object of the connection's fields")
        }
        return parameters
    }

    func run() async throws {
        let context = try ConnectionsContext(dir: dir)
        let connection = try NewConnection(
            name: name, plugin: plugin, parameters: parameters, catalog: context.catalog, layout: context.layout,
            replacing: force)
        if let created = try CLIFailure.wrap({ try connection.write() }) {
            FileHandle.standardError.write(
                Data(
                    ("relay: created master key \(created.id) in \(created.source) (readable by you only; back it up:"
                        + " without it the secrets cannot be opened)\n").utf8))
        }
        let sealed = connection.sealedFields
        print(
            "connection \(name) (\(plugin)) written to \(connection.path)"
                + (sealed.isEmpty ? "" : "; encrypted: \(sealed.joined(separator: ", "))"))
    }
}

struct ConnectionsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Every connection: name, plugin, fields (secrets marked).")
    @Option(help: "The project directory.") var dir = "."

    func run() async throws {
        let store = try ConnectionsContext(dir: dir).store()
        for connection in store.all {
            let fields = (connection.parameters.objectValue ?? [:]).keys.map {
                connection.secretFields.contains($0) ? "\($0) (encrypted)" : $0
            }
            print("\(connection.name)  \(connection.plugin)  \(fields.joined(separator: ", "))")
        }
    }
}

struct ConnectionsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One connection, secrets shown as ********.")
    @Argument(help: "The connection's name.") var name: String
    @Option(help: "The project directory.") var dir = "."

    func run() async throws {
        let context = try ConnectionsContext(dir: dir)
        let store = try context.store()
        guard let connection = store[name] else { throw CLIFailure("no connection named \(name)") }
        print(
            JSONWriter.pretty.string([
                "name": .string(connection.name), "plugin": .string(connection.plugin),
                "parameters": connection.masked(catalog: context.catalog),
                "encrypted": .array(
                    connection.secretFields.filter { connection.parameters[$0] != nil }.map { .string($0) }),
            ]))
    }
}

struct ConnectionsTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Run the plugin's connection test with this connection; exit 1 when it fails.")
    @Argument(help: "The connection's name.") var name: String
    @Option(help: "The project directory.") var dir = "."
    @Option(help: "Seconds before the test is stopped (1 to 2592000, 30 days).") var timeout = 60

    func validate() throws {
        let most = WorkflowLimits.longestDurationDays * 86_400
        guard (1...most).contains(timeout) else {
            throw ValidationError("--timeout: expected seconds from 1 to \(most), found \(timeout)")
        }
    }

    func run() async throws {
        let context = try ConnectionsContext(dir: dir)
        let store = try context.store()
        guard let connection = store[name], let entry = context.catalog[connection.plugin] else {
            throw CLIFailure("no connection named \(name)")
        }
        let start = StepStart(step: .connectionTest, connection: connection.parameters)
        // The connection's secrets are masked in what the test returned.
        let event = await entry.run(start, timeout: .seconds(timeout))
        if event.status == .ok {
            print(
                "ok: connection \(name) (\(connection.plugin)) "
                    + "works\(event.output.map { ": " + JSONWriter.compact.string($0) } ?? "")"
            )
            return
        }
        var lines = ["failed: connection \(name) (\(connection.plugin))"]
        if let exception = event.exception {
            lines.append("  cause: \(exception.cause)")
            if !exception.assistance.isEmpty { lines.append("  assistance: \(exception.assistance)") }
        } else {
            lines.append("  error: \(event.error ?? "the plugin reported no error")")
        }
        print(lines.joined(separator: "\n"))
        throw ExitCode(1)
    }
}

struct ConnectionsRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete connections/NAME.yaml.")
    @Argument(help: "The connection's name.") var name: String
    @Option(help: "The project directory.") var dir = "."

    func run() async throws {
        let path = ConnectionsContext(dirOnly: dir).path(name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIFailure("no connection named \(name) (\(path))")
        }
        try FileManager.default.removeItem(atPath: path)
        print("connection \(name) removed")
    }
}

struct ConnectionsRotateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Re-encrypt every connection's secrets under a new master key.",
        discussion: """
            With the key in a file (DIR/.relay/master.key or RELAY_MASTER_KEY_FILE), the new key replaces it there. \
            With the key in RELAY_MASTER_KEY, the new key is written to --new-key-file; set RELAY_MASTER_KEY to its \
            content afterwards. The old key is needed to open the secrets.
            """)
    @Option(help: "The project directory.") var dir = "."
    @Option(help: "Where to write the new key (required when the key comes from RELAY_MASTER_KEY).") var newKeyFile:
        String?

    func run() async throws {
        let context = try ConnectionsContext(dir: dir)
        guard let old = try context.key() else { throw CLIFailure("no master key is set: nothing is encrypted yet") }
        let store = try context.store() // opens every secret with the old key first: nothing is written on error
        let location = MasterKey.location(defaultFile: context.layout.masterKey)
        let target: String
        switch (location, newKeyFile) {
        case (_, .some(let path)): target = path
        case (.file(let path), nil): target = path
        case (.environment, nil):
            throw CLIFailure("the key comes from RELAY_MASTER_KEY: pass --new-key-file PATH for the new one")
        }
        let new = MasterKey.generate(source: target)
        // The new key is stored beside the old one until every file is rewritten, then moved into place.
        let pending = target + ".new"
        try new.write(to: pending)
        var count = 0
        for connection in store.all {
            guard let file = connection.file else { continue }
            try ConnectionFile.write(connection, to: file, key: new)
            count += 1
        }
        if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
        try FileManager.default.moveItem(atPath: pending, toPath: target)
        print(
            "re-encrypted \(count) connection\(count == 1 ? "" : "s") under master key \(new.id) (was "
                + "\(old.id)); the new key is in \(target)"
        )
        if location == .environment { print("set RELAY_MASTER_KEY to the content of \(target) before the next start") }
    }
}

extension ConnectionsContext {
    /// For commands that only need paths.
    init(dirOnly dir: String) {
        layout = ProjectLayout(root: dir)
        catalog = PluginCatalog()
    }
}
