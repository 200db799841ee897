import Foundation
import RelayCore
import RelayEngine
import RelayKafka
import RelayPlugins
import RelaySDK
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The pipeline as separate processes on the test broker: `relay triggers`, `relay dispatcher` and three
/// `relay worker`s. Midway one worker is killed with SIGKILL and the dispatcher is killed and started again:
/// every run finishes exactly once, no job is lost, and the outputs are those of an undisturbed run.
///
/// Poison messages on the events topic and on a job topic go to the dead-letter topic, and the rest carries on.
///
/// Every topic and group of the cluster is under a prefix of its own (`RELAY_TOPIC_PREFIX`), so other tests can
/// share the broker. scripts/test runs this suite in a phase of its own: five processes on two cores.
@Suite(
    .serialized,
    .enabled(if: KafkaKill.broker != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct DistributedPipelineTests {
    static let workflow = """
        name: dist
        trigger: {plugin: webhook, trigger: webhook, input: {path: dist}}
        steps:
          - {id: encode, plugin: base64, action: encode, input: {content: "event {{ trigger.json.n }}"}}
          - {id: hash, plugin: hashit, action: string, input: {string: "{{ steps.encode.output.data }}"}}
          - {id: split, plugin: type_converter, action: string_to_list,
             input: {input: "{{ steps.hash.output.md5 }}", delimiter: "a"}}
        """

    final class Cluster {
        let directory: URL
        let suffix = UUID().uuidString.prefix(8).lowercased()
        var processes: [String: Process] = [:]
        /// The trigger host's HTTP port, chosen by the kernel (a random one could be taken).
        let port: Int

        /// `workflows`: each workflow's YAML by file name (without `.yaml`); by default this suite's `dist`.
        init(workflows: [String: String] = ["dist": DistributedPipelineTests.workflow]) throws {
            port = try LoopbackPort.free()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-dist-\(suffix)")
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("workflows"), withIntermediateDirectories: true)
            for (name, yaml) in workflows {
                try yaml.write(
                    to: directory.appendingPathComponent("workflows/\(name).yaml"), atomically: true, encoding: .utf8)
            }
        }

        var prefix: String { "dist-\(suffix)." }
        var client: KafkaClientConfiguration {
            KafkaClientConfiguration(bootstrapServers: [KafkaKill.broker!], clientID: "relay-tests")
        }

        /// Settings every process gets besides the cluster's own (a shared store's URL).
        var extraEnvironment: [String: String] = [:]

        /// The cluster's topics and groups under a prefix of its own: other tests share the broker.
        var environment: [String: String] {
            [
                "RELAY_BROKERS": KafkaKill.broker!, "RELAY_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "RELAY_KAFKA_PARTITIONS": "6",
                "RELAY_TOPIC_PREFIX": prefix,
            ].merging(extraEnvironment) { $1 }
        }

        func start(_ name: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = RelayProcess.executable
            process.arguments = arguments + ["--dir", directory.path]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let log = directory.appendingPathComponent("\(name).log")
            if !FileManager.default.fileExists(atPath: log.path) {
                FileManager.default.createFile(atPath: log.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes[name] = process
        }

        func kill(_ name: String) {
            guard let process = processes[name] else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// SIGTERM to every process; one still running after `grace` is killed and reported as "hung".
        func stopAll(grace: Duration = .seconds(60)) async -> [String: String] {
            for process in processes.values where process.isRunning { process.terminate() }
            var statuses: [String: String] = [:]
            let deadline = ContinuousClock.now + grace
            for (name, process) in processes {
                while process.isRunning && ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                if process.isRunning {
                    dumpThreads(of: process, into: name)
                    Foundation.kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    statuses[name] = "hung"
                } else {
                    statuses[name] =
                        process.terminationReason == .exit
                        ? "exit \(process.terminationStatus)" : "signal \(process.terminationStatus)"
                }
            }
            return statuses
        }

        /// The threads' stacks of a process that did not stop, into its log (when gdb is installed).
        func dumpThreads(of process: Process, into name: String) {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") else { return }
            let gdb = Process()
            gdb.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
            gdb.arguments = ["-p", String(process.processIdentifier), "-batch", "-ex", "thread apply all bt 30"]
            let handle = try? FileHandle(forWritingTo: directory.appendingPathComponent("\(name).log"))
            handle?.seekToEndOfFile()
            gdb.standardOutput = handle
            gdb.standardError = FileHandle.nullDevice
            try? gdb.run()
            gdb.waitUntilExit()
        }

        var database: SQLiteDatabase {
            get throws { try SQLiteDatabase(path: directory.appendingPathComponent(".relay/relay.sqlite").path) }
        }

        func finished() async throws -> Int {
            guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(".relay/relay.sqlite").path)
            else { return 0 }
            let counts = try await SQLRunStore(readingFrom: database).runCounts()
            return counts.filter { $0.key.isFinished }.values.reduce(0, +)
        }

        func post(_ n: Int) async throws -> Int { try await Self.post(n, port: port) }

        /// The log a process of the cluster has written so far.
        func log(_ name: String) -> String {
            (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
        }

        /// Posts `{"n": n}` to the trigger host on `port`, with an `Idempotency-Key` when `key` is given; the status.
        static func post(_ n: Int, port: Int, key: String? = nil) async throws -> Int {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/webhooks/dist")!)
            request.httpMethod = "POST"
            if let key { request.setValue(key, forHTTPHeaderField: "Idempotency-Key") }
            request.httpBody = Data(#"{"n": \#(n)}"#.utf8)
            let (_, response) = try await URLSession.shared.data(for: request)
            return (response as? HTTPURLResponse)?.statusCode ?? 0
        }
    }

    /// What an undisturbed run gives for event n, computed by running the same native plugins in-process.
    static func expected(_ n: Int) async throws -> JSONValue {
        let encoded = await PluginHost(plugin: try NativePlugins.base64()).run(
            StepStart(step: .action("encode"), input: ["content": .string("event \(n)")]))
        let hashed = await PluginHost(plugin: try NativePlugins.hashit()).run(
            StepStart(step: .action("string"), input: ["string": encoded.output?["data"] ?? .null]))
        let split = await PluginHost(plugin: try NativePlugins.typeConverter()).run(
            StepStart(
                step: .action("string_to_list"), input: ["input": hashed.output?["md5"] ?? .null, "delimiter": "a"]))
        return split.output ?? .null
    }

    @Test func everyRunFinishesOnceThroughAWorkerKillAndADispatcherRestart() async throws {
        let cluster = try Cluster()
        defer {
            for process in cluster.processes.values where process.isRunning {
                Foundation.kill(process.processIdentifier, SIGKILL)
            }
            // The processes' logs, for a failure's diagnosis.
            for name in cluster.processes.keys.sorted() {
                let log =
                    (try? String(contentsOf: cluster.directory.appendingPathComponent("\(name).log"), encoding: .utf8))
                    ?? ""
                if !log.isEmpty { print("--- \(name).log (last 30000 characters)\n\(log.suffix(30000))") }
            }
            try? FileManager.default.removeItem(at: cluster.directory)
        }
        try cluster.start("triggers", ["triggers", "--port", String(cluster.port)])
        try cluster.start("dispatcher", ["dispatcher"])
        for index in 1...3 { try cluster.start("worker\(index)", ["worker", "--concurrency", "4"]) }
        #expect(await waitFor { (try? await cluster.post(-1)) == 202 }, "the trigger host takes webhooks")

        let total = 2000
        let port = cluster.port
        let posting = Task {
            for n in 0..<total {
                let status = try await Cluster.post(n, port: port)
                if status != 202 { throw RelayError(.io, "webhook answered \(status)") }
            }
        }
        #expect(await waitFor { (try? await cluster.finished()) ?? 0 >= total / 5 }, "runs finish before the kills")
        // The dead-letter topic is read from its start while the cluster runs: the poison event below is
        // dead-lettered only once the restarted dispatcher's events consumer has joined its group, which may take
        // longer than the rest of the test. The topic is created here (the pipeline creates it at its first dead
        // letter) so that the reader's subscription finds it.
        let deadLetters = try await DeadLetterReader(cluster)
        cluster.kill("worker1")
        cluster.kill("dispatcher")
        try cluster.start("dispatcher", ["dispatcher"])
        // Poison: garbage on the events topic (the dispatcher's) and a non-job on a job topic (the workers').
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: cluster.client))
        _ = try await producer.send([
            KafkaProducerMessage(
                topic: cluster.prefix + "relay.events", key: Array("poison".utf8),
                value: Array("this is not an event".utf8)),
            KafkaProducerMessage(
                topic: cluster.prefix + "relay.jobs.hashit", key: Array("poison".utf8),
                value: Array(#"{"not": "a job"}"#.utf8)),
        ])
        await producer.close()
        try await posting.value
        #expect(await waitFor(seconds: 240) { (try? await cluster.finished()) ?? 0 >= total + 1 }, "every run finishes")
        // Each poison message reaches the dead-letter topic, with what was wrong and where it came from.
        let poisoned = ["relay.events", "relay.jobs.hashit"]
        let bothDead = await waitFor {
            let dead = await deadLetters.messages.items
            return poisoned.allSatisfy { topic in
                dead.contains {
                    DeadLetterReader.header($0, "relay.dlq.topic") == topic
                        && !DeadLetterReader.header($0, "relay.dlq.reason").isEmpty
                }
            }
        }
        let reasons = await deadLetters.reasons()
        #expect(bothDead, "both poison messages are dead-lettered while the cluster runs: \(reasons)")
        let statuses = await cluster.stopAll()
        #expect(
            statuses.filter { $0.key != "worker1" }.allSatisfy { $0.value == "exit 0" },
            "SIGTERM: drain, exit 0: \(statuses)")

        let database = try cluster.database
        let (runs, failed, completions, duplicates, retried) = try await database.read { db in
            (
                try db.query("SELECT COUNT(*) FROM runs").first![0].int ?? -1,
                try db.query("SELECT COUNT(*) FROM runs WHERE status != 'succeeded'").first![0].int ?? -1,
                try db.query("SELECT COUNT(*) FROM steps WHERE status = 'succeeded'").first![0].int ?? -1,
                try db.query(
                    "SELECT COUNT(*) FROM (SELECT run_id, step_id FROM steps WHERE status = 'succeeded' "
                        + "GROUP BY run_id, step_id HAVING COUNT(*) > 1)"
                ).first![0].int ?? -1,
                try db.query("SELECT COUNT(*) FROM steps WHERE attempt > 1").first![0].int ?? -1
            )
        }
        #expect(runs == Int64(total + 1), "one run per event")
        #expect(failed == 0)
        #expect(completions == Int64((total + 1) * 3), "every step of every run completed once")
        #expect(duplicates == 0)
        #expect(retried == 0, "a killed worker's jobs are redone by the others, not retried")

        let outputs = try await database.read { db in
            try db.query(
                "SELECT r.trigger_event, s.output FROM runs r JOIN steps s ON s.run_id = r.id WHERE s.step_id = 'split'"
            )
        }
        var mismatches = 0
        for row in outputs {
            guard let event = try? JSONParser.parse(row[0].text ?? ""), let n = event["json"]?["n"]?.intValue,
                let output = try? JSONParser.parse(row[1].text ?? "")
            else {
                mismatches += 1
                continue
            }
            if output != (try await Self.expected(n)) { mismatches += 1 }
        }
        #expect(outputs.count == total + 1 && mismatches == 0, "outputs are those of an undisturbed run")

        // Each poison message is on the dead-letter topic once, and nothing else is: with every process stopped,
        // a marker on each partition ends what can be there.
        let dead = try await deadLetters.readToEnd()
        #expect(dead.count == 2, "two dead letters: \(dead.map { DeadLetterReader.header($0, "relay.dlq.reason") })")
        let byTopic = Dictionary(
            dead.map { (DeadLetterReader.header($0, "relay.dlq.topic"), $0) },
            uniquingKeysWith: { first, _ in first })
        #expect(byTopic["relay.events"].map { String(decoding: $0.value, as: UTF8.self) } == "this is not an event")
        #expect(
            byTopic["relay.jobs.hashit"].map { String(decoding: $0.value, as: UTF8.self) }
                == #"{"not": "a job"}"#)
        #expect(dead.allSatisfy { !DeadLetterReader.header($0, "relay.dlq.reason").isEmpty }, "the reason rides along")
    }

    /// Reads the cluster's dead-letter topic from its start, in the background, into `messages`.
    final class DeadLetterReader: Sendable {
        static let marker = Array("end of dead letters".utf8)
        let topic: String
        let partitions: Int
        let client: KafkaClientConfiguration
        let consumer: KafkaConsumer
        let messages: Collected<KafkaConsumerMessage>
        let reading: Task<Void, Error>

        init(_ cluster: Cluster) async throws {
            topic = cluster.prefix + Topics.dlq
            client = cluster.client
            let admin = try KafkaAdmin(configuration: client)
            let created = try await admin.createTopics([TopicDeclaration(name: topic, partitions: 6)])
            _ = try created[topic]?.get()
            let described = try await admin.describeTopics([topic])
            await admin.close()
            partitions = try #require(described[topic]?.partitions)
            var configuration = KafkaConsumerConfiguration(client: client, groupID: "dlq-reader-\(cluster.suffix)")
            configuration.sessionTimeoutMilliseconds = 6_000
            configuration.heartbeatIntervalMilliseconds = 500
            let consumer = try KafkaConsumer(configuration: configuration, topics: [topic])
            self.consumer = consumer
            let collected = Collected<KafkaConsumerMessage>()
            messages = collected
            reading = Task { for try await message in consumer.messages { await collected.append(message) } }
        }

        static func header(_ message: KafkaConsumerMessage, _ name: String) -> String {
            message.headers.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) } ?? ""
        }

        func reasons() async -> [String] { await messages.items.map { Self.header($0, "relay.dlq.reason") } }

        /// Every dead letter, once nothing can add more: a marker goes to each partition and the reader waits
        /// until it has read them all (each partition is read in order), then stops.
        func readToEnd() async throws -> [KafkaConsumerMessage] {
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client))
            _ = try await producer.send(
                (0..<partitions).map {
                    KafkaProducerMessage(topic: topic, partition: Int32($0), key: nil, value: Self.marker)
                })
            await producer.close()
            let partitions = partitions
            let allMarkers = await waitFor {
                Set(await messages.items.filter { $0.value == Self.marker }.map(\.partition)).count == partitions
            }
            #expect(allMarkers, "the reader reaches the end of each dead-letter partition")
            await consumer.close()
            _ = try await reading.value
            return await messages.items.filter { $0.value != Self.marker }
        }
    }

    /// `relay bench --brokers`: worker processes, every run finished, the embedded bench's last line.
    @Test func theBenchRunsOnKafkaWithWorkerProcesses() async throws {
        let result = try await RelayProcess.run([
            "bench", "--brokers", KafkaKill.broker!, "--events", "300", "--workers", "2",
        ])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        #expect(
            lines.dropLast().last?.hasPrefix("bus=kafka workers=2 partitions=6 events=300 steps=3 concurrency=8 ")
                == true, "\(lines)")
        #expect(lines.dropLast().last?.hasSuffix(" failed_runs=0") == true, "\(lines)")
        let last = lines.last ?? ""
        #expect(
            last.range(of: #"^runs/s=\d+ steps/s=\d+ p50_ms=\d+ p99_ms=\d+$"#, options: .regularExpression) != nil,
            "\(last)")
    }

    /// `relay bench --brokers --sequential`: one run at a time on Kafka, every one finished, milliseconds to 0.01.
    @Test func theSequentialBenchRunsOnKafkaOneRunAtATime() async throws {
        let result = try await RelayProcess.run([
            "bench", "--brokers", KafkaKill.broker!, "--sequential", "10", "--steps", "2",
        ])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        let summary = lines.dropLast().last ?? ""
        #expect(summary.hasPrefix("bus=kafka workers=1 partitions=6 sequential=10 steps=2 "), "\(lines)")
        #expect(summary.hasSuffix(" failed_runs=0"), "\(lines)")
        BenchCommandTests.expectSequentialLine(lines.last ?? "")
    }
}
