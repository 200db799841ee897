import Foundation
import RelayKafka
import RelayTransport
import Testing

/// `relay topics apply` against the test broker: creates what is missing, is idempotent, reports drift without
/// changing anything.
@Suite(.enabled(if: KafkaKill.broker != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct TopicsApplyTests {
    @Test func createsWhatIsMissingAndReportsDrift() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-topics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let fresh = "apply-fresh-\(suffix)"
        let drifted = "apply-drifted-\(suffix)"
        // The drifted topic already exists with fewer partitions than declared.
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: [KafkaKill.broker!]))
        _ = try await admin.createTopics([TopicDeclaration(name: drifted, partitions: 1)])
        try """
        topics:
          - {name: \(fresh), partitions: 2, replication_factor: 1, config: {retention.ms: "3600000"}}
          - {name: \(drifted), partitions: 3, replication_factor: 1}
        """.write(to: directory.appendingPathComponent("relay.yaml"), atomically: true, encoding: .utf8)
        let arguments = ["topics", "apply", "--brokers", KafkaKill.broker!, "--topics", directory.path]

        let first = try await RelayProcess.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\(fresh)    created"))
        #expect(first.stdout.contains("\(drifted)  drift: partitions: declared 3, found 1"))
        #expect(first.stdout.hasSuffix("2 topics: 1 created, 0 unchanged, 1 drifted, 0 failed\n"))
        let described = try await admin.describeTopics([fresh, drifted])
        #expect(described[fresh]?.partitions == 2)
        #expect(described[fresh]?.config?["retention.ms"] == "3600000")
        #expect(described[drifted]?.partitions == 1, "drift is reported, never altered")

        let second = try await RelayProcess.run(arguments + ["--fail-on-drift"])
        #expect(second.status == 3)
        #expect(second.stdout.contains("\(fresh)    unchanged"))
        await admin.close()
    }

    /// Without --topics, the declarations are the project's (DIR/topics, DIR from --dir or RELAY_DIR), not those of
    /// the current directory (the tests run in the package root, which has a topics/ of its own).
    @Test func theDeclarationsAreTheProjectsByDefault() async throws {
        let project = FileManager.default.temporaryDirectory.appendingPathComponent("relay-topics-\(UUID().uuidString)")
        let topics = project.appendingPathComponent("topics")
        try FileManager.default.createDirectory(at: topics, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: project) }
        let name = "apply-project-\(UUID().uuidString.prefix(8).lowercased())"
        try "topics:\n  - {name: \(name), partitions: 1, replication_factor: 1}\n"
            .write(to: project.appendingPathComponent("topics/relay.yaml"), atomically: true, encoding: .utf8)
        for arguments in [["--dir", project.path], []] {
            let result = try await RelayProcess.run(
                ["topics", "apply", "--brokers", KafkaKill.broker!] + arguments,
                environment: ["RELAY_DIR": project.path])
            #expect(result.status == 0, "\(result.stderr)")
            // The first run (--dir) creates the topic; the second (RELAY_DIR) finds it.
            let counts = arguments.isEmpty ? "0 created, 1 unchanged" : "1 created, 0 unchanged"
            #expect(result.stdout.hasSuffix("1 topics: \(counts), 0 drifted, 0 failed\n"), "\(result.stdout)")
        }
        let help = try await RelayProcess.run(["topics", "apply", "--help"])
        let helpText = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ") // unwrapped
        #expect(
            helpText.contains("--topics <PATH> The directory of topic declarations (default: DIR/topics"), "\(helpText)"
        )
    }

    @Test func aMalformedPropertyIsAClearErrorAtStart() async throws {
        let result = try await RelayProcess.run([
            "topics", "apply", "--brokers", KafkaKill.broker!,
            "--kafka-property", "security.protocol=carrier-pigeon",
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Kafka configuration: security.protocol=\"carrier-pigeon\": "))
    }
}
