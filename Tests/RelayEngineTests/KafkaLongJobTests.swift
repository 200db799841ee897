import Foundation
import RelayCore
import RelayKafka
import RelayPlugins
import RelaySDK
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// A job that runs longer than max.poll.interval.ms does not make its worker fall out of the group: the consumer's
/// poll thread keeps polling while the action runs, so the job is not redelivered and runs once.
@Suite(
    .enabled(
        if: EngineTestBroker.address != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaLongJobTests {
    enum Sleeper {
        static let spec = """
            name: sleeper
            title: Sleeper
            description: Takes its time
            version: 1.0.0
            vendor: rapid7
            actions:
              nap:
                input:
                  seconds: {type: integer, required: true}
                output:
                  slept: {type: integer, required: true}
            """
        /// Times each job id ran.
        static let runs = Mutex<[String: Int]>([:])

        struct Nap: PluginAction {
            static let name = "nap"
            struct Input: Decodable, Sendable { var seconds: Int }
            struct Output: Encodable, Sendable { var slept: Int }
            func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
                Sleeper.runs.withLock { $0[(try? JobRoute(meta: context.meta).jobID) ?? "?", default: 0] += 1 }
                try await Task.sleep(for: .seconds(input.seconds))
                return Output(slept: input.seconds)
            }
        }
    }

    @Test(.timeLimit(.minutes(4))) func aJobLongerThanMaxPollIntervalRunsOnceAndIsNotRedelivered() async throws {
        var plugins = try NativePlugins.all()
        plugins["sleeper"] = try Plugin(
            specYAML: Sleeper.spec, connection: NoConnection.self, actions: [.init(Sleeper.Nap())])
        var configuration = KafkaTransportConfiguration(
            client: KafkaClientConfiguration(bootstrapServers: [EngineTestBroker.address!]))
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        configuration.maxPollIntervalMilliseconds = 7_000
        configuration.defaultPartitions = 1
        configuration.topicPrefix = "long-\(UUID().uuidString.prefix(8))."
        let bus = try KafkaTransport(configuration: configuration)
        let worker = Worker(
            bus: bus, catalog: PluginCatalog(native: plugins), connections: ConnectionStore(),
            plugins: ["sleeper"], concurrency: 1)
        let running = Task { try? await worker.run() }

        let runID = "run-\(UUID().uuidString.prefix(8))"
        // 16 s: more than twice max.poll.interval.ms; then a short job behind it on the same partition.
        func job(_ step: String, seconds: Int) -> BusMessage {
            let start = StepStart(
                step: .action("nap"), input: ["seconds": .int(seconds)],
                meta: JobRoute(
                    jobID: "\(runID)/\(step)/1", runID: runID, stepID: step, attempt: 1, workflow: "long",
                    timeoutMilliseconds: 60_000
                ).meta)
            return BusMessage(topic: Topics.jobs("sleeper"), key: runID, json: start.message.json)
        }
        try await bus.publish([job("long", seconds: 16), job("short", seconds: 0)])

        // Once the short job ran, a marker job goes behind both on the same partition. The worker runs one job at
        // a time, in partition order, and publishes each result before it starts the next job: had it left the
        // group, the long and short jobs would be delivered again, from the committed offset, before the marker,
        // and their second results would be on the results topic (one partition) before the marker's.
        #expect(
            await waitFor(seconds: 120) { Sleeper.runs.withLock { $0["\(runID)/short/1"] } == 1 }, "the short job ran")
        try await bus.publish([job("marker", seconds: 0)])
        let reader = try await bus.subscribe(topic: Topics.results, group: "long-reader")
        var results: [Delivery] = []
        reading: while true {
            for delivery in try await reader.nextBatch(maximum: 100) {
                let value = String(decoding: delivery.message.value, as: UTF8.self)
                if value.contains("\(runID)/marker/1") { break reading }
                results.append(delivery)
            }
        }
        running.cancel()
        await running.value
        await reader.close()
        await bus.close()

        let statuses = try results.map { delivery -> String in
            let event = try StepEvent(
                body: try V1Message(json: try JSONParser.parse(bytes: delivery.message.value)).body)
            return "\(event.meta["stepId"]?.stringValue ?? "?"):\(event.status)"
        }
        #expect(statuses.sorted() == ["long:ok", "short:ok"], "each job's result once: \(statuses)")
        #expect(Sleeper.runs.withLock { $0["\(runID)/long/1"] } == 1, "the long job ran once")
    }
}
