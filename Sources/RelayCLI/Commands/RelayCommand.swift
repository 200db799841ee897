import ArgumentParser

/// `relay`: the root command.
public struct RelayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "An event-driven automation engine for InsightConnect plugins.",
        version: RelayVersion.string,
        subcommands: [PluginCommand.self, VersionCommand.self]
    )

    public init() {}
}

enum RelayVersion {
    static let string = "0.1.0"
}
