import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayKafka
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTransport

/// `relay runs list|show`.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "Inspect workflow runs.",
        subcommands: [RunsListCommand.self, RunsShowCommand.self])
}

struct ProjectDatabase {
    /// The run store of the project in `dir`, for reading.
    static func runStore(_ dir: String) throws -> any RunStore {
        SQLiteRunStore(readingFrom: try open(dir))
    }

    static func open(_ dir: String) throws -> SQLiteDatabase {
        let path = ProjectLayout(root: dir).database
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIFailure(
                "no run store found at \(path): the run store is kept where the pipeline runs, in "
                    + "DIR/.relay/relay.sqlite of relay up (embedded bus) or of relay dispatcher (Kafka); "
                    + "pass that project's --dir on the machine that runs it")
        }
        return try SQLiteDatabase(path: path)
    }
}

struct RunsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The latest runs: id, workflow, status, start, end.")
    @Option(help: "The project directory.") var dir: String = "."
    @Option(help: "How many runs.") var limit = 50
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let runs = try await ProjectDatabase.runStore(dir).runs(limit: limit)
        if json {
            print(JSONWriter.pretty.string(.array(runs.map(\.json))))
            return
        }
        for run in runs {
            let finished = run.finishedAt.map(RunTime.text) ?? "-"
            print(
                [run.id, run.workflow, run.status.rawValue, RunTime.text(run.startedAt), finished].joined(
                    separator: "  "))
        }
    }
}

struct RunsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One run, step by step: input, output, error, attempts, timings.")
    @Argument(help: "The run id.") var id: String
    @Option(help: "The project directory.") var dir: String = "."
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        guard var run = try await ProjectDatabase.runStore(dir).run(id: id) else {
            throw CLIFailure("no run \(id)")
        }
        // The graph comes from the workflow's definition, looked up by name among the project's workflow files
        // (read as they are now: a later slice pins each run to the version it started with).
        if let workflow = Self.workflow(named: run.summary.workflow, in: ProjectLayout(root: dir).workflows) {
            run.graph = workflow.steps.indices.map {
                RunDetail.GraphStep(step: workflow.steps[$0].id, needs: workflow.needs(at: $0))
            }
        }
        if json {
            print(JSONWriter.pretty.string(run.json))
            return
        }
        let summary = run.summary
        print(
            "run \(id)  \(summary.workflow)  \(summary.status.rawValue)  started \(RunTime.text(summary.startedAt))  "
                + "finished \(summary.finishedAt.map(RunTime.text) ?? "-")")
        if let error = summary.error { print("  error: \(error)") }
        print("  trigger event: \(JSONWriter.compact.string(run.triggerEvent))")
        for step in run.steps {
            let duration = step.json["duration_ms"]?.intValue.map { " \($0) ms" } ?? ""
            let needs = run.needs(of: step.stepID).map { "  (needs: \($0.isEmpty ? "-" : $0.joined(separator: ", ")))" }
            print("  \(step.stepID) #\(step.attempt): \(step.status.rawValue)\(duration)\(needs ?? "")")
            if let input = step.input, input != .null { print("    input:  \(JSONWriter.compact.string(input))") }
            if let output = step.output, output != .null { print("    output: \(JSONWriter.compact.string(output))") }
            if let error = step.error { print("    error:  \(error)") }
            if let items = run.items(of: step.stepID) {
                print("    items:  \(items.done)/\(items.total) done")
                for item in items.latest {
                    let duration = item.json["duration_ms"]?.intValue.map { " \($0) ms" } ?? ""
                    let error = item.error.map { ": \($0)" } ?? ""
                    print("      [\(item.index)] #\(item.attempt): \(item.status.rawValue)\(duration)\(error)")
                }
            }
        }
        let started = Set(run.steps.map(\.stepID))
        for step in run.graph where !started.contains(step.step) {
            let needs = step.needs.isEmpty ? "-" : step.needs.joined(separator: ", ")
            print("  \(step.step): not started  (needs: \(needs))")
        }
    }
}

extension RunsShowCommand {
    /// The workflow of that name among the files of `directory`, or nil (files that do not read are passed over:
    /// showing a run needs no valid project).
    static func workflow(named name: String, in directory: String) -> Workflow? {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            if let workflow = try? WorkflowDecoder.load(path: path), workflow.name == name { return workflow }
        }
        return nil
    }
}

/// `relay events publish`: inject an event by hand.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Work with trigger events.",
        subcommands: [EventsPublishCommand.self])
}

struct EventsPublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish an event as if a workflow's trigger had sent it; the running pipeline handles it.",
        discussion: """
            Without --brokers (or RELAY_BROKERS) the event goes to the embedded bus in DIR/.relay/relay.sqlite \
            (relay up, or the next one); with them, to the relay.events topic on Kafka (relay dispatcher). Env: \
            RELAY_DIR, RELAY_BROKERS, RELAY_KAFKA_PROPERTIES, RELAY_KAFKA_CLIENT_ID, RELAY_TOPIC_PREFIX.
            """)
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Option(help: "The workflow whose trigger sends it, or PLUGIN.TRIGGER when only one workflow uses that trigger.")
    var trigger: String
    @Option(help: "The event (the trigger's output) as JSON.") var json: String
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var prefix: TopicPrefixOption

    func run() async throws {
        let project = try CLIFailure.wrap { try Project.load(directory: dir, native: try NativePlugins.all()) }
        let matches = project.workflows.filter {
            $0.name == trigger || $0.trigger.map { "\($0.plugin).\($0.trigger)" } == trigger
        }
        guard let workflow = matches.first else {
            throw CLIFailure(
                "no workflow named or triggered by \(trigger); workflows: "
                    + "\(project.workflows.map(\.name).joined(separator: ", "))"
            )
        }
        let output: JSONValue
        do {
            output = try JSONParser.parse(json)
        } catch {
            throw CLIFailure("--json: not valid JSON: \(error)")
        }
        if let problem = output.payloadProblem(at: "--json") { throw CLIFailure("\(problem): not published") }
        guard let binding = workflow.trigger else {
            throw CLIFailure("workflow \(workflow.name) has no trigger: it runs only as a sub-workflow of another")
        }
        let eventID = UUID().uuidString.lowercased()
        let instance = binding.instanceID
        let event = TriggerEvent(
            id: eventID, instance: instance, plugin: binding.plugin, trigger: binding.trigger,
            output: output, time: Date().timeIntervalSince1970
        ).message
        if kafka.isConfigured {
            try await publishToKafka(event, project: project)
            let brokers = try kafka.client().bootstrapServers.joined(separator: ",")
            print("published event \(eventID) for \(instance) to Kafka \(brokers)")
        } else {
            let database = try SQLiteDatabase(path: project.layout.database)
            let bus = try EmbeddedBus(database: database)
            // The run store's tables too, so that `relay runs` reads an empty store before the first `relay up`.
            _ = try SQLiteRunStore(bus: bus)
            try await bus.publish([event])
            print("published event \(eventID) for \(instance) to the embedded bus \(project.layout.database)")
        }
    }

    private func publishToKafka(_ event: BusMessage, project: Project) async throws {
        var configuration = KafkaTransportConfiguration(client: try kafka.client(defaultClientID: "relay-events"))
        configuration.topicPrefix = prefix.topicPrefix
        // relay.events is created as DIR/topics declares it when no pipeline process has created it yet.
        if FileManager.default.fileExists(atPath: project.layout.topics) {
            configuration.topics = try CLIFailure.wrap { try TopicDeclaration.loadDirectory(project.layout.topics) }
        }
        let transport = try KafkaTransport(configuration: configuration)
        do {
            try await transport.publish([event])
        } catch let error as KafkaError {
            await transport.close()
            throw CLIFailure("events publish: \(error.message)")
        }
        await transport.close()
    }
}
