import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayKafka
import RelayStore
import RelayTransport

/// `relay dlq list|show|redrive|discard`: the dead letters the dispatcher's run store keeps.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show, redrive and discard dead letters (messages no consumer could handle).",
        discussion: """
            Dead letters are kept in the run store, DIR/.relay/relay.sqlite of relay up (embedded bus) or of relay \
            dispatcher (Kafka): run these where that file is. Redrive publishes the original message (key, value, \
            its own headers) back to its source topic and removes the dead letter, in one transaction: to the \
            embedded bus in that file, or with --brokers (or RELAY_BROKERS) to Kafka through the store's outbox. \
            Env: RELAY_DIR, RELAY_BROKERS, RELAY_KAFKA_PROPERTIES, RELAY_KAFKA_CLIENT_ID, RELAY_TOPIC_PREFIX.
            """,
        subcommands: [
            DeadLettersListCommand.self, DeadLettersShowCommand.self, DeadLettersRedriveCommand.self,
            DeadLettersDiscardCommand.self,
        ])
}

struct DeadLettersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The dead letters kept, oldest first: id, when, source topic, reason, excerpt.")
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Option(help: "How many (1 to 1000).") var limit = 50
    @Option(help: "Only those whose id is greater (paging).") var after: Int64?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        guard (1...DeadLetterLimits.maximumList).contains(limit) else {
            throw CLIFailure("--limit: expected a number from 1 to \(DeadLetterLimits.maximumList), found \(limit)")
        }
        let store = try ProjectDatabase.runStore(dir)
        let letters = try await DeadLetterDesk(store: store).list(limit: limit, after: after)
        if json {
            print(JSONWriter.pretty.string(.array(letters.map(\.json))))
            return
        }
        for letter in letters {
            let excerpt = letter.excerpt.prefix(80).map { $0.isNewline ? " " : String($0) }.joined()
            let source = letter.sourceTopic.isEmpty ? "-" : letter.sourceTopic
            print(
                [String(letter.id), RunTime.text(letter.receivedAt), source, letter.reason, excerpt].joined(
                    separator: "  "))
        }
    }
}

struct DeadLettersShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One dead letter: reason, source, key, headers and the whole value.")
    @Argument(help: "The dead letter's id.") var id: Int64
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Flag(help: "JSON output (with headers and the value as text).") var json = false

    func run() async throws {
        let store = try ProjectDatabase.runStore(dir)
        guard let letter = try await store.deadLetter(id: id) else {
            throw CLIFailure("no dead letter \(id) in \(ProjectLayout(root: dir).database) (relay dlq list shows them)")
        }
        let value = String(decoding: letter.value, as: UTF8.self)
        if json {
            var object = letter.json.objectValue ?? [:]
            object["headers"] = .object(
                JSONObject(uniqueKeysWithValues: letter.headers.map { ($0.key, .string($0.value)) }))
            object["value"] = .string(value)
            print(JSONWriter.pretty.string(.object(object)))
            return
        }
        print("dead letter \(letter.id)  received \(RunTime.text(letter.receivedAt))")
        print("  reason: \(letter.reason)")
        print("  from:   \(letter.sourceTopic.isEmpty ? "-" : letter.sourceTopic) at offset \(letter.offset)")
        print("  key:    \(letter.key)")
        for (name, text) in letter.headers.sorted(by: { $0.key < $1.key }) { print("  header \(name): \(text)") }
        if letter.truncated { print("  (kept truncated: it cannot be redriven)") }
        print("  value (\(letter.value.count) bytes):")
        print(value)
    }
}

/// The project's run store for writing, with the transport its transactions publish through.
struct DeadLetterStoreOptions: ParsableArguments {
    @Argument(help: "The dead letter's id.") var id: Int64
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var prefix: TopicPrefixOption

    /// Runs `body` with the desk over the store of DIR: the embedded bus in its file, or its outbox to Kafka.
    func withDesk<T>(_ body: (DeadLetterDesk) async throws -> T) async throws -> T {
        let database = try ProjectDatabase.open(dir)
        let transport = try ProjectTransport.open(
            database, dir: dir, kafka: kafka, prefix: prefix, clientID: "relay-dlq")
        do {
            let store: SQLRunStore
            if let bus = transport.bus as? EmbeddedBus {
                store = try SQLRunStore(bus: bus)
            } else {
                store = try SQLRunStore(database: database, publishingTo: transport.bus)
            }
            let value = try await body(DeadLetterDesk(store: store))
            await transport.close()
            return value
        } catch let error as RelayError {
            await transport.close()
            throw CLIFailure(error.message)
        } catch {
            await transport.close()
            throw error
        }
    }

    func notFound() -> CLIFailure {
        CLIFailure("no dead letter \(id) in \(ProjectLayout(root: dir).database) (relay dlq list shows them)")
    }
}

struct DeadLettersRedriveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redrive",
        abstract: "Publish a dead letter's original message back to its source topic, and remove the dead letter.")
    @OptionGroup var options: DeadLetterStoreOptions

    func run() async throws {
        let id = options.id
        guard let letter = try await options.withDesk({ try await $0.redrive(id: id) }) else {
            throw options.notFound()
        }
        print("redrove dead letter \(letter.id) to \(letter.sourceTopic) (key \(letter.key))")
    }
}

struct DeadLettersDiscardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discard", abstract: "Remove a dead letter without publishing it.")
    @OptionGroup var options: DeadLetterStoreOptions

    func run() async throws {
        let id = options.id
        guard try await options.withDesk({ try await $0.discard(id: id) }) else { throw options.notFound() }
        print("discarded dead letter \(id)")
    }
}

/// The pipeline's transport as a command reaches it: the embedded bus in `database` (DIR/.relay/relay.sqlite), or
/// Kafka when brokers are configured (with DIR/topics' declarations, for a topic no pipeline process has created
/// yet).
struct ProjectTransport {
    let bus: any Transport
    /// Where it publishes, as people read it.
    let target: String
    private let kafka: KafkaTransport?

    static func open(
        _ database: SQLiteDatabase, dir: String, kafka: KafkaOptions, prefix: TopicPrefixOption, clientID: String
    ) throws -> ProjectTransport {
        let layout = ProjectLayout(root: dir)
        guard kafka.isConfigured else {
            let bus = try EmbeddedBus(database: database)
            return ProjectTransport(bus: bus, target: "the embedded bus \(layout.database)", kafka: nil)
        }
        var configuration = KafkaTransportConfiguration(client: try kafka.client(defaultClientID: clientID))
        configuration.topicPrefix = prefix.topicPrefix
        if FileManager.default.fileExists(atPath: layout.topics) {
            configuration.topics = try CLIFailure.wrap { try TopicDeclaration.loadDirectory(layout.topics) }
        }
        let transport = try KafkaTransport(configuration: configuration)
        return ProjectTransport(
            bus: transport, target: "Kafka \(configuration.client.bootstrapServers.joined(separator: ","))",
            kafka: transport)
    }

    func close() async {
        await kafka?.close()
    }
}
