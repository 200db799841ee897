import ArgumentParser
import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelayStore

/// `relay events replay`: publish the kept events of a time range again, as new events.
struct EventsReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Publish the recorded trigger events of a time range again, as new events (new ids): the current "
            + "workflow versions run on past input.",
        discussion: """
            Reads the events kept in the run store (DIR/.relay/relay.sqlite of relay up, or of relay dispatcher on \
            Kafka: run it where that file is), received from --since to --until, oldest first, at most 10,000; \
            payloads are kept for --event-retention (default 30 days). T: ISO 8601 (2026-12-04T10:00:00Z), now, or \
            relative to now (-2h, -30m, -7d). Publishes to the embedded bus in that file, or with --brokers (or \
            RELAY_BROKERS) to Kafka. Env: RELAY_DIR, RELAY_BROKERS, RELAY_KAFKA_PROPERTIES, RELAY_KAFKA_CLIENT_ID, \
            RELAY_TOPIC_PREFIX.
            """)
    @Option(help: "The project directory (env RELAY_DIR).")
    var dir: String = ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."
    @Option(help: "The workflow whose trigger's events to replay; they start that workflow alone.")
    var workflow: String?
    @Option(help: "The trigger instance whose events to replay (instead of --workflow).") var instance: String?
    @Option(parsing: .unconditional, help: "The start of the range (received at or after), T.") var since: String
    @Option(parsing: .unconditional, help: "The end of the range (received at or before), T.")
    var until: String = "now"
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var prefix: TopicPrefixOption

    func run() async throws {
        let now = Date().timeIntervalSince1970
        let start = try ReplayTime.seconds(since, flag: "--since", now: now)
        let end = try ReplayTime.seconds(until, flag: "--until", now: now)
        let instance = try instanceID()
        let database = try ProjectDatabase.open(dir)
        let transport = try ProjectTransport.open(
            database, dir: dir, kafka: kafka, prefix: prefix, clientID: "relay-events")
        let ids: [String]
        do {
            let replay = EventReplay(store: SQLRunStore(readingFrom: database), transport: transport.bus)
            ids = try await replay.replay(instance: instance, since: start, until: end, workflow: workflow)
            await transport.close()
        } catch let error as RelayError {
            await transport.close()
            throw CLIFailure(error.message)
        } catch {
            await transport.close()
            throw error
        }
        print(
            "published \(ids.count) event(s) of \(instance) received from \(RunTime.text(start)) to "
                + "\(RunTime.text(end)) to \(transport.target)")
        for id in ids { print(id) }
    }

    /// The trigger instance: --instance, or the instance of --workflow's trigger binding.
    func instanceID() throws -> String {
        switch (workflow, instance) {
        case (nil, let instance?): return instance
        case (let name?, nil):
            let project = try CLIFailure.wrap { try Project.load(directory: dir, native: try NativePlugins.all()) }
            guard let workflow = project.workflows.first(where: { $0.name == name }) else {
                throw CLIFailure(
                    "--workflow: no workflow named \(name); workflows: "
                        + project.workflows.map(\.name).joined(separator: ", "))
            }
            guard let binding = workflow.trigger else {
                throw CLIFailure("--workflow: workflow \(name) has no trigger (it runs only as a sub-workflow)")
            }
            return binding.instanceID
        default:
            throw CLIFailure(
                "expected one of --workflow NAME or --instance ID, found \(workflow == nil ? "neither" : "both")")
        }
    }
}

/// A time of `relay events replay`: ISO 8601, `now`, or relative to now (`-2h`).
enum ReplayTime {
    static func seconds(_ text: String, flag: String, now: Double) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "now" { return now }
        if trimmed.hasPrefix("-"), let ago = try? CLIDuration.seconds(String(trimmed.dropFirst()), flag: flag) {
            return now - ago
        }
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds],
        ] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: trimmed) { return date.timeIntervalSince1970 }
        }
        throw CLIFailure(
            "\(flag): expected a time in ISO 8601 (2026-12-04T10:00:00Z), now, or relative to now (-2h, -30m, -7d), "
                + "found \"\(text)\"")
    }
}

/// A duration flag: `500ms`, `30s`, `15m`, `12h`, `30d`, or a number of seconds; from 0 to 10 years.
enum CLIDuration {
    static func seconds(_ text: String, flag: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, seconds: Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400),
        ]
        var seconds: Double?
        if let unit = units.first(where: { trimmed.hasSuffix($0.suffix) }) {
            seconds = Double(trimmed.dropLast(unit.suffix.count)).map { $0 * unit.seconds }
        } else {
            seconds = Double(trimmed)
        }
        let most = 3650.0 * 86_400
        guard let seconds, seconds.isFinite, (0...most).contains(seconds) else {
            throw CLIFailure(
                "\(flag): expected a duration from 0 to 3650d such as 30d, 12h, 30m or 0, found \"\(text)\"")
        }
        return seconds
    }

    /// `--event-retention` of relay up and relay dispatcher.
    static func eventRetention(_ text: String) throws -> Duration {
        .milliseconds(Int((try seconds(text, flag: "--event-retention") * 1000).rounded()))
    }
}
