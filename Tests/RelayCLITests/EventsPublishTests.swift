import Foundation
import RelayCore
import RelayEngine
import RelayKafka
import RelayTransport
import Testing

/// `relay events publish` goes where the deployment runs: Kafka when brokers are given, else the embedded bus.
/// `relay runs list` says where the run store is when it finds none.
@Suite struct EventsPublishTests {
    static let workflow = """
        name: greet
        trigger: {plugin: webhook, trigger: webhook, input: {path: greet}}
        steps:
          - {id: a, plugin: base64, action: encode, input: {content: "{{ trigger.body }}"}}
        """

    func withProject(_ body: (URL) async throws -> Void) async throws {
        let project = FileManager.default.temporaryDirectory.appendingPathComponent("relay-events-\(UUID().uuidString)")
        let workflows = project.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: project) }
        try Self.workflow.write(to: workflows.appendingPathComponent("greet.yaml"), atomically: true, encoding: .utf8)
        try await body(project)
    }

    @Test(
        .enabled(
            if: KafkaKill.broker != nil,
            "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
    func withBrokersTheEventGoesToKafkaNotTheLocalFile() async throws {
        try await withProject { project in
            let prefix = "events-\(UUID().uuidString.prefix(8).lowercased())."
            let result = try await RelayProcess.run(
                [
                    "events", "publish", "--dir", project.path, "--trigger", "greet", "--json", #"{"body": "Ada"}"#,
                    "--brokers", KafkaKill.broker!, "--topic-prefix", prefix,
                ],
                environment: ["RELAY_BROKERS": ""])
            #expect(result.status == 0, "\(result.stderr)")
            let eventID = try #require(result.stdout.split(separator: " ").dropFirst(2).first.map(String.init))
            #expect(
                !FileManager.default.fileExists(atPath: project.appendingPathComponent(".relay/relay.sqlite").path),
                "nothing written to the embedded bus")

            var configuration = KafkaTransportConfiguration(
                client: KafkaClientConfiguration(bootstrapServers: [KafkaKill.broker!]))
            configuration.topicPrefix = prefix
            let bus = try KafkaTransport(configuration: configuration)
            let reader = try await bus.subscribe(topic: Topics.events, group: "events-reader")
            let delivery = try #require(try await reader.next())
            let event = try TriggerEvent(bytes: delivery.message.value)
            #expect(event.id == eventID)
            #expect(event.output == ["body": "Ada"])
            await reader.close()
            await bus.close()
        }
    }

    @Test func withoutBrokersTheEventGoesToTheEmbeddedBus() async throws {
        try await withProject { project in
            let result = try await RelayProcess.run(
                ["events", "publish", "--dir", project.path, "--trigger", "greet", "--json", "{}"],
                environment: ["RELAY_BROKERS": ""])
            #expect(result.status == 0, "\(result.stderr)")
            let database = "\(project.path)/.relay/relay.sqlite"
            #expect(result.stdout.contains("to the embedded bus \(database)"), "\(result.stdout)")
            #expect(FileManager.default.fileExists(atPath: database))
            // Before any relay up, the run store is there and empty.
            let runs = try await RelayProcess.run(["runs", "list", "--dir", project.path])
            #expect(runs.status == 0, "\(runs.stderr)")
            #expect(runs.stdout.isEmpty)
        }
    }

    @Test func runsListWithoutARunStoreSaysWhereItIsKept() async throws {
        try await withProject { project in
            let result = try await RelayProcess.run(["runs", "list", "--dir", project.path])
            #expect(result.status != 0)
            let database = "\(project.path)/.relay/relay.sqlite"
            #expect(
                result.stderr.contains(
                    "no run store found at \(database): the run store is kept where the pipeline runs"),
                "\(result.stderr)")
            #expect(!result.stderr.contains("run relay up"), "\(result.stderr)")
        }
    }
}
