import ArgumentParser
import Dispatch
import Foundation
import RelayCore
import RelayKafka

/// `relay kafka consume|bench`: tools for the Kafka bus.
struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka", abstract: "Tools for the Kafka bus: read a topic as a group member, measure throughput.",
        subcommands: [KafkaConsumeCommand.self, KafkaBenchCommand.self])
}

/// Reads a topic as a member of a group and prints each message as one JSON line; a message is acknowledged
/// (and later committed) only after its line is written, so a killed consumer loses nothing.
struct KafkaConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Print a topic's messages as JSON lines, as a member of a consumer group (commits what it printed).")

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "The topic.") var topic: String
    @Option(help: "The consumer group.") var group: String
    @Option(help: "Stop after this many messages (default: run until SIGTERM or Ctrl-C).") var count: Int?
    @Option(help: "session.timeout.ms of the group membership.") var sessionTimeoutMs = 10_000
    @Option(help: "How often printed messages are committed, in ms (also on exit and on revoke).")
    var commitIntervalMs = 200

    func run() async throws {
        var configuration = KafkaConsumerConfiguration(
            client: try kafka.client(defaultClientID: "relay-consume"), groupID: group)
        configuration.sessionTimeoutMilliseconds = sessionTimeoutMs
        configuration.heartbeatIntervalMilliseconds = min(1000, sessionTimeoutMs / 3)
        configuration.commitIntervalMilliseconds = commitIntervalMs
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(configuration: configuration, topics: [topic])
        } catch let error as KafkaError {
            throw CLIFailure(error.message)
        }
        let reading = Task {
            var printed = 0
            for try await message in consumer.messages {
                let line: JSONValue = [
                    "topic": .string(message.topic), "partition": .int(Int(message.partition)),
                    "offset": .int(Int(message.offset)),
                    "key": message.key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null,
                    "value": .string(String(decoding: message.value, as: UTF8.self)),
                    "headers": .object(
                        JSONObject(
                            message.headers.map {
                                ($0.name, JSONValue.string(String(decoding: $0.value, as: UTF8.self)))
                            },
                            uniquingKeysWith: { $1 })),
                ]
                FileHandle.standardOutput.write(Data((JSONWriter.compact.string(line) + "\n").utf8))
                consumer.acknowledge(message)
                printed += 1
                if let count, printed >= count { break }
            }
        }
        let signals = SignalCancellation(task: reading)
        _ = try? await reading.value
        signals.cancel()
        await consumer.close()
    }
}

/// Cancels a task on SIGTERM or SIGINT.
/// Not Sendable: made and cancelled by the command that owns it.
final class SignalCancellation {
    private let sources: [any DispatchSourceSignal]

    init(task: Task<Void, any Error>) {
        sources = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber)
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}
