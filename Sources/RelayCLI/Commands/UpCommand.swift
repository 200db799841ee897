import ArgumentParser
import Foundation
import Logging
import RelayCore
import RelayEngine
import RelayPlugins

/// `relay up`: the whole pipeline in one process.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run triggers, dispatcher and workers in one process on the embedded bus.",
        discussion: """
            Reads DIR/workflows/*.yaml, DIR/connections/*.yaml and DIR/plugins/*.yaml (external plugins), keeps \
            state in DIR/.relay/relay.sqlite, prints one line per finished run, and serves webhooks \
            (/webhooks/PATH), /healthz and /metrics on 127.0.0.1:PORT. Ctrl-C or SIGTERM drains and exits. \
            Workflow files are read again every --reload-interval: changes apply to new runs without a restart. \
            The operator's API is served under /api/v1 with a bearer token (relay tokens), and its web UI at /; a \
            fresh project gets a token at its first start, printed once in the address that opens the UI signed \
            in. Environment: RELAY_DIR, RELAY_PORT, RELAY_API_TOKEN, \
            RELAY_WORKER_CONCURRENCY, RELAY_DEADLINE_GRACE, \
            RELAY_RELOAD_INTERVAL, RELAY_WEBHOOK_BODY_LIMIT, RELAY_EVENT_RETENTION.
            """
    )

    @Option(help: "The project directory (env RELAY_DIR).") var dir: String =
        ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Option(help: "The HTTP port (env RELAY_PORT).") var port: Int =
        Int(ProcessInfo.processInfo.environment["RELAY_PORT"] ?? "") ?? 8080
    @Option(help: "Jobs a worker runs at once (env RELAY_WORKER_CONCURRENCY).")
    var concurrency: Int = Int(ProcessInfo.processInfo.environment["RELAY_WORKER_CONCURRENCY"] ?? "") ?? 8
    @Option(
        help: """
            Seconds past a step's timeout to wait for a job's result before failing the attempt \
            (env RELAY_DEADLINE_GRACE).
            """
    )
    var deadlineGrace: Double = Double(ProcessInfo.processInfo.environment["RELAY_DEADLINE_GRACE"] ?? "") ?? 30
    @Option(
        help: """
            How often to read the workflow files for changes: added, changed and removed workflows apply without a \
            restart; 1s, 500ms, 2m, 0 for never (env RELAY_RELOAD_INTERVAL).
            """
    )
    var reloadInterval: String = ProcessInfo.processInfo.environment["RELAY_RELOAD_INTERVAL"] ?? "1s"
    @Option(
        help: """
            The largest webhook body in bytes; a longer one is answered 413 without being read \
            (env RELAY_WEBHOOK_BODY_LIMIT).
            """
    )
    var webhookBodyLimit: String = ProcessInfo.processInfo.environment["RELAY_WEBHOOK_BODY_LIMIT"] ?? "1048576"
    @Option(
        help: """
            How long to keep events' payloads for relay events replay: 30d, 12h, 0 for not at all \
            (env RELAY_EVENT_RETENTION).
            """
    )
    var eventRetention: String = ProcessInfo.processInfo.environment["RELAY_EVENT_RETENTION"] ?? "30d"

    func run() async throws {
        CLILogging.bootstrap()
        let project = try CLIFailure.wrap { try Project.load(directory: dir, native: try NativePlugins.all()) }
        var configuration = EmbeddedPipeline.Configuration()
        configuration.port = port
        configuration.workerConcurrency = concurrency
        configuration.dispatcher.deadlineGrace = try DeadlineGrace.duration(seconds: deadlineGrace)
        configuration.reloadInterval = try ReloadInterval.duration(reloadInterval)
        configuration.webhookBodyLimit = try WebhookBodyLimit.bytes(webhookBodyLimit)
        configuration.apiToken = ProcessInfo.processInfo.environment["RELAY_API_TOKEN"].flatMap {
            $0.isEmpty ? nil : $0
        }
        configuration.dispatcher.eventRetention = try CLIDuration.eventRetention(eventRetention)
        let pipeline = try EmbeddedPipeline(project: project, configuration: configuration)
        CLIMetrics.bootstrap(pipeline.metrics)
        // A fresh project gets a token at its first start, printed once in the web UI's address that signs in with
        // it (as notebook servers do): the one-command start stays one command.
        let tokens = APITokenStore(
            stateDirectory: project.layout.stateDirectory, environmentToken: configuration.apiToken)
        let firstToken = try CLIFailure.wrap { try tokens.createFirstTokenIfNone() }
        let workflows = project.workflows.map(\.name).joined(separator: ", ")
        try await pipeline.run { port in
            var lines =
                "relay: \(project.workflows.count) workflow(s) (\(workflows)); state in "
                + "\(project.layout.database); http://127.0.0.1:\(port) (webhooks, /api/v1, /healthz, /metrics)\n"
            if let firstToken {
                // The web UI's address that signs in with it (the page then takes the token out of the address).
                lines +=
                    "relay: created API token \"default\" (shown once; relay tokens list|create|revoke manage "
                    + "tokens); open the web UI signed in:\n"
                    + "    http://127.0.0.1:\(port)/?token=\(firstToken)\n"
            }
            FileHandle.standardError.write(Data(lines.utf8))
        }
    }
}

/// `relay workflow validate`: check the project's workflows without running anything.
struct WorkflowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow", abstract: "Work with workflows.",
        subcommands: [WorkflowValidateCommand.self, WorkflowImportCommand.self])
}

struct WorkflowValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the workflows of a project: plugins, actions, steps, inputs against the schemas.")

    @Option(help: "The project directory.") var dir: String = "."

    func run() throws {
        let project = try CLIFailure.wrap { try Project.load(directory: dir, native: try NativePlugins.all()) }
        print("\(project.workflows.count) workflow(s) valid: \(project.workflows.map(\.name).joined(separator: ", "))")
    }
}
