import ArgumentParser
import Foundation
import RelayEngine
import RelayKafka
import RelayTransport

/// `relay topics apply`.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics", abstract: "Relay's Kafka topics, as declared in topics/*.yaml.",
        subcommands: [TopicsApplyCommand.self])
}

struct TopicsApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create the declared topics that are missing; report those that differ (never deletes or alters).",
        discussion:
            "Exit status: 0 when every topic exists (drift is reported), 1 when one could not be created "
            + "or described, 3 with --fail-on-drift when one differs."
    )

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var prefix: TopicPrefixOption
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Option(
        help: ArgumentHelp(
            "The directory of topic declarations (default: DIR/topics, the project's).",
            valueName: "PATH"))
    var topics: String?
    @Flag(help: "Exit with status 3 when a topic differs from its declaration.") var failOnDrift = false

    func run() async throws {
        let directory = topics ?? ProjectLayout(root: dir).topics
        let declarations = try CLIFailure.wrap { try TopicDeclaration.loadDirectory(directory) }
            .map { $0.prefixed(prefix.topicPrefix) }
        let admin = try KafkaAdmin(configuration: try kafka.client(defaultClientID: "relay-topics"))
        let outcomes: [TopicApplyOutcome]
        do {
            outcomes = try await KafkaTopicPlanner(admin: admin).apply(declarations)
        } catch let error as KafkaError {
            await admin.close()
            throw CLIFailure("topics apply: \(error.message)")
        }
        await admin.close()
        let width = outcomes.map(\.topic.count).max() ?? 0
        for outcome in outcomes {
            let name = outcome.topic.padding(toLength: width, withPad: " ", startingAt: 0)
            let details = outcome.details.isEmpty ? "" : ": " + outcome.details.joined(separator: "; ")
            print("\(name)  \(outcome.status.rawValue)\(details)")
        }
        let count = { (status: TopicApplyOutcome.Status) in outcomes.filter { $0.status == status }.count }
        print(
            "\(outcomes.count) topics: \(count(.created)) created, \(count(.unchanged)) unchanged, "
                + "\(count(.drift)) drifted, \(count(.failed)) failed"
        )
        if count(.failed) > 0 { throw ExitCode(1) }
        if failOnDrift && count(.drift) > 0 { throw ExitCode(3) }
    }
}
