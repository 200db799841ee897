import Foundation
import RelayCore
import RelayKafka
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A worker on the Kafka bus runs a job of the leaky plugin: neither the job topic nor the results topic holds
/// the connection's secret, in any byte of any message (key, value, headers).
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaWorkerSecretTests {
    @Test func theKafkaTopicsNeverCarryTheSecret() async throws {
        let secret = "kafka-secret-\(UUID().uuidString)"
        let key = MasterKey.generate(source: "test")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-kafka-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try ConnectionFile.write(
            .init(
                name: "vault", plugin: "vault", parameters: ["url": "https://vault", "password": .string(secret)],
                secretFields: ["password"]), to: directory.appendingPathComponent("vault.yaml").path, key: key)
        let catalog = try VaultPlugin.catalog()
        let connections = try ConnectionStore(directory: directory.path, catalog: catalog, key: key)

        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [EngineTestBroker.address!]))
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.defaultPartitions = 1
        let bus = try KafkaTransport(configuration: configuration)
        let worker = Worker(bus: bus, catalog: catalog, connections: connections, plugins: ["vault"], concurrency: 2)
        let running = Task { try? await worker.run() }

        let runID = "run-\(UUID().uuidString.prefix(8))"
        let jobs = [(false, "out"), (true, "err")].map { fail, step in
            StepStart(
                step: .action("leak"), input: ["fail": .bool(fail)], connection: [:],
                meta: JobRoute(
                    jobID: "\(runID)/\(step)/1", runID: runID, stepID: step, attempt: 1, workflow: "secrets",
                    timeoutMilliseconds: 60_000, connection: "vault"
                ).meta)
        }
        try await bus.publish(jobs.map { BusMessage(topic: Topics.jobs("vault"), key: runID, json: $0.message.json) })

        // Read both topics from the start with a group of our own until both results are there.
        let reader = try await bus.subscribe(
            topic: Topics.results, group: "secret-reader-\(UUID().uuidString.prefix(8))")
        var ours: [Delivery] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while ours.count < 2, ContinuousClock.now < deadline {
            let batch = try await reader.nextBatch(maximum: 100)
            ours += batch.filter { String(decoding: $0.message.value, as: UTF8.self).contains(runID) }
        }
        #expect(ours.count == 2, "both results arrived")
        let jobReader = try await bus.subscribe(
            topic: Topics.jobs("vault"), group: "secret-job-reader-\(UUID().uuidString.prefix(8))")
        var jobMessages: [Delivery] = []
        while jobMessages.count < 2, ContinuousClock.now < deadline {
            jobMessages += try await jobReader.nextBatch(maximum: 100).filter { $0.message.key == runID }
        }
        running.cancel()
        await running.value
        await reader.close()
        await jobReader.close()
        await bus.close()

        let bytes = (ours + jobMessages).flatMap { delivery in
            Array(delivery.message.key.utf8) + delivery.message.value
                + delivery.message.headers.flatMap { Array($0.key.utf8) + Array($0.value.utf8) }
        }
        #expect(jobMessages.count == 2)
        #expect(!containsBytes(bytes, Array(secret.utf8)), "a Kafka message holds the secret")
        let text = ours.map { String(decoding: $0.message.value, as: UTF8.self) }.joined()
        #expect(text.contains("the password is ********") && text.contains("The vault refused ********."))
    }
}

enum EngineTestBroker {
    static let address = ProcessInfo.processInfo.environment["RELAY_TEST_KAFKA_BROKERS"].flatMap {
        $0.isEmpty ? nil : $0
    }
}
