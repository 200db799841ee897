import ArgumentParser

/// `relay`: the root command.
public struct RelayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "An event-driven automation engine for InsightConnect plugins.",
        version: RelayVersion.string,
        subcommands: [
            UpCommand.self, DispatcherCommand.self, WorkerCommand.self, TriggersCommand.self, WorkflowCommand.self,
            RunsCommand.self, ArtifactsCommand.self, EventsCommand.self, DeadLettersCommand.self,
            ConnectionsCommand.self, BenchCommand.self,
            PluginCommand.self,
            TokensCommand.self,
            TopicsCommand.self, KafkaCommand.self, StoreCommand.self, VersionCommand.self,
        ]
    )

    public init() {}
}

enum RelayVersion {
    static let string = "0.1.0"
}

extension RelayCommand {
    /// Parses the process arguments and runs the chosen command, async or not.
    public static func start() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
