import ArgumentParser

/// `relay plugin …`: work with plugin specs.
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Work with InsightConnect plugin specs (plugin.spec.yaml).",
        subcommands: [
            PluginSchemaCommand.self, PluginValidateCommand.self, PluginCheckValueCommand.self, PluginNewCommand.self,
            PluginBenchCommand.self, PluginBenchRunnersCommand.self,
        ]
    )
}
