import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayKafka
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTransport

/// `relay runs list|show|artifact|cancel|resume|answer`.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "Inspect, cancel, resume and answer workflow runs.",
        subcommands: [
            RunsListCommand.self, RunsShowCommand.self, RunsArtifactCommand.self, RunsCancelCommand.self,
            RunsResumeCommand.self, RunsAnswerCommand.self,
        ])
}

struct ProjectDatabase {
    /// The run store of the project in `dir`, for reading: the shared one when `RELAY_STORE_URL` names it (the
    /// dispatchers' PostgreSQL), else the project's file.
    static func runStore(_ dir: String) throws -> any RunStore {
        if let url = sharedStoreURL { return SQLRunStore(readingFrom: try SharedStore.open(url, connections: 1)) }
        return SQLRunStore(readingFrom: try open(dir))
    }

    /// `RELAY_STORE_URL`, when set.
    static var sharedStoreURL: String? {
        ProcessInfo.processInfo.environment["RELAY_STORE_URL"].flatMap { $0.isEmpty ? nil : $0 }
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
            var columns = [run.id, run.workflow, run.status.rawValue, RunTime.text(run.startedAt), finished]
            if let parent = run.parentRunID { columns.append("(child of \(parent), step \(run.parentStepID ?? "?"))") }
            print(columns.joined(separator: "  "))
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
        let store = try ProjectDatabase.runStore(dir)
        // Secret inputs masked as the API masks them, by the native plugins' specs and the project's external ones
        // that can be read (a run is shown without a valid project too).
        let layout = ProjectLayout(root: dir)
        var catalog = PluginCatalog(native: try NativePlugins.all())
        try? catalog.registerExternal(in: layout.plugins)
        guard
            let run = try await store.runWithGraph(id: id, workflowsDirectory: layout.workflows, catalog: catalog)
        else {
            throw CLIFailure("no run \(id)")
        }
        if json {
            print(JSONWriter.pretty.string(run.json))
            return
        }
        let summary = run.summary
        print(
            "run \(id)  \(summary.workflow)  \(summary.status.rawValue)  started \(RunTime.text(summary.startedAt))  "
                + "finished \(summary.finishedAt.map(RunTime.text) ?? "-")")
        if let hash = summary.version {
            print("  version: \(hash.prefix(12)) (sha-256 of the workflow file it started with)")
        }
        if let parent = summary.parentRunID { print("  parent: run \(parent), step \(summary.parentStepID ?? "?")") }
        if let error = summary.error { print("  error: \(error)") }
        print("  trigger event: \(JSONWriter.compact.string(run.triggerEvent))")
        if let output = run.output, output != .null { print("  output: \(JSONWriter.compact.string(output))") }
        for step in run.steps {
            let duration = step.json["duration_ms"]?.intValue.map { " \($0) ms" } ?? ""
            let needs = run.needs(of: step.stepID).map { "  (needs: \($0.isEmpty ? "-" : $0.joined(separator: ", ")))" }
            print("  \(step.stepID) #\(step.attempt): \(step.status.rawValue)\(duration)\(needs ?? "")")
            if let input = step.input, input != .null { print("    input:  \(JSONWriter.compact.string(input))") }
            if let output = step.output, output != .null { print("    output: \(JSONWriter.compact.string(output))") }
            if let error = step.error { print("    error:  \(error)") }
            if let child = step.childRunID { print("    run:    \(child) (sub-workflow)") }
            if let late = step.late {
                print(
                    "    late result (after the deadline; ignored): \(late.status.rawValue)"
                        + (late.error.map { ": \($0)" } ?? ""))
            }
            if let items = run.items(of: step.stepID) {
                print("    items:  \(items.done)/\(items.total) done")
                for item in items.latest {
                    let duration = item.json["duration_ms"]?.intValue.map { " \($0) ms" } ?? ""
                    let error = item.error.map { ": \($0)" } ?? ""
                    let child = item.childRunID.map { "  (run \($0))" } ?? ""
                    print("      [\(item.index)] #\(item.attempt): \(item.status.rawValue)\(duration)\(error)\(child)")
                }
            }
        }
        let started = Set(run.steps.map(\.stepID))
        for step in run.graph where !started.contains(step.step) {
            let needs = step.needs.isEmpty ? "-" : step.needs.joined(separator: ", ")
            print("  \(step.step): not started  (needs: \(needs))")
        }
        if !run.children.isEmpty {
            print("  sub-workflow runs:")
            for child in run.children {
                print(
                    "    \(child.id)  \(child.workflow)  \(child.status.rawValue)  (step \(child.parentStepID ?? "?"))")
            }
        }
        if !run.artifacts.isEmpty {
            print("  artifacts (relay runs artifact \(id) NAME prints one):")
            for artifact in run.artifacts {
                print(
                    "    \(artifact.name)  (step \(artifact.stepID), \(artifact.format.rawValue), "
                        + "\(artifact.size) bytes)"
                )
            }
        }
    }
}

/// `relay runs cancel` and `relay runs resume`: a request on `relay.control`, which the dispatcher handles in order
/// with the run's other messages. Where the run store is readable here (the project's `--dir` of `relay up`, or of
/// `relay dispatcher` on this machine), the run is checked first and the command waits until the dispatcher has
/// handled the request.
struct RunControlOptions: ParsableArguments {
    @Argument(help: "The run id.") var id: String
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Option(help: "How long to wait for the dispatcher to handle the request, in seconds (0: do not wait).")
    var wait: Double = 10
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var prefix: TopicPrefixOption

    /// Sends `request` after `check` accepts the run's status (when the store is readable), then waits until
    /// `done` holds for the run's new status.
    func send(
        _ request: RunControl, check: (RunDetail) -> RunControlCheck.Problem?,
        done: @escaping (_ before: RunDetail, _ now: RunDetail) -> Bool
    ) async throws {
        let layout = ProjectLayout(root: dir)
        let readable = FileManager.default.fileExists(atPath: layout.database)
        let store = readable ? try ProjectDatabase.runStore(dir) : nil
        var before: RunDetail?
        if let store {
            guard let run = try await store.run(id: id) else {
                throw CLIFailure("no run \(id) in \(layout.database)")
            }
            if let problem = check(run) {
                throw CLIFailure("run \(id) is \(run.summary.status.rawValue): \(problem.message)")
            }
            before = run
        }
        guard wait.isFinite, (0...3600).contains(wait) else {
            throw CLIFailure("--wait: expected a number of seconds from 0 to 3600, found \(wait)")
        }
        let message = request.message
        let target = try await PipelinePublisher(dir: dir, kafka: kafka, prefix: prefix).publish(message)
        print("requested \(request.command.rawValue) of run \(id) (\(target))")
        guard let store, let before, wait > 0 else { return }
        let deadline = ContinuousClock.now + .milliseconds(Int(wait * 1000))
        while ContinuousClock.now < deadline {
            if let detail = try await store.run(id: id), done(before, detail) {
                let run = detail.summary
                print("run \(id) is \(run.status.rawValue)" + (run.error.map { ": \($0)" } ?? ""))
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        print(
            "the dispatcher has not handled it within \(wait) s (is relay up, or relay dispatcher, running?); "
                + "it will when it reads the request")
    }
}

struct RunsCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a running run: no new step starts, results in flight are recorded, sub-workflow runs "
            + "are cancelled.")
    @OptionGroup var options: RunControlOptions
    @Option(help: "Why (kept with the run).") var reason: String?

    func run() async throws {
        try await options.send(
            RunControl(command: .cancel, runID: options.id, reason: reason),
            check: RunControlCheck.cancel,
            done: { _, now in now.summary.status != .running })
    }
}

struct RunsResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a failed, timed-out or cancelled run: failed and not-started steps run again, "
            + "succeeded steps keep their outputs.")
    @OptionGroup var options: RunControlOptions

    func run() async throws {
        try await options.send(
            RunControl(command: .resume, runID: options.id),
            check: RunControlCheck.resume,
            // Handled: running again, or already ended again (a new end time: it may have failed at once).
            done: { before, now in
                now.summary.status == .running || now.summary.finishedAt != before.summary.finishedAt
            })
    }
}

struct RunsAnswerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer",
        abstract: "Answer a decision step that waits for a person: pick one of its options; the run goes on.",
        discussion: "relay runs answer RUN_ID STEP OPTION, e.g. relay runs answer run-4f2a approve Quarantine")
    @OptionGroup var options: RunControlOptions
    @Argument(help: "The decision step's id.") var step: String
    @Argument(help: "The option picked (one of the step's options).") var option: String
    @Option(help: "Who answers, kept with the answer (default: $USER).")
    var by: String? = ProcessInfo.processInfo.environment["USER"]

    func run() async throws {
        let step = self.step
        let option = option
        try await options.send(
            RunControl.answer(runID: options.id, stepID: step, option: option, by: by),
            check: { RunControlCheck.answer($0, step: step, option: option) },
            done: { _, now in now.steps.last(where: { $0.stepID == step })?.status != .running })
    }
}

/// `relay events publish`: inject an event by hand.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Work with trigger events.",
        subcommands: [EventsPublishCommand.self, EventsReplayCommand.self])
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
        let target = try await PipelinePublisher(dir: dir, kafka: kafka, prefix: prefix).publish(event)
        print("published event \(eventID) for \(instance) to \(target)")
    }
}

/// Publishes a message to the pipeline of the project in `dir`: the embedded bus in its file, or Kafka when
/// brokers are configured.
struct PipelinePublisher {
    var dir: String
    var kafka: KafkaOptions
    var prefix: TopicPrefixOption

    /// Publishes; returns where to, as people read it.
    func publish(_ message: BusMessage) async throws -> String {
        let layout = ProjectLayout(root: dir)
        if kafka.isConfigured {
            try await publishToKafka(message, layout: layout)
            return "Kafka \(try kafka.client().bootstrapServers.joined(separator: ","))"
        }
        let database = try SQLiteDatabase(path: layout.database)
        let bus = try EmbeddedBus(database: database)
        // The run store's tables too, so that `relay runs` reads an empty store before the first `relay up`.
        _ = try SQLRunStore(bus: bus)
        try await bus.publish([message])
        return "the embedded bus \(layout.database)"
    }

    private func publishToKafka(_ event: BusMessage, layout: ProjectLayout) async throws {
        var configuration = KafkaTransportConfiguration(client: try kafka.client(defaultClientID: "relay-events"))
        configuration.topicPrefix = prefix.topicPrefix
        // The topic is created as DIR/topics declares it when no pipeline process has created it yet.
        if FileManager.default.fileExists(atPath: layout.topics) {
            configuration.topics = try CLIFailure.wrap { try TopicDeclaration.loadDirectory(layout.topics) }
        }
        let transport = try KafkaTransport(configuration: configuration)
        do {
            try await transport.publish([event])
        } catch let error as KafkaError {
            await transport.close()
            throw CLIFailure("publish to \(event.topic): \(error.message)")
        }
        await transport.close()
    }
}
