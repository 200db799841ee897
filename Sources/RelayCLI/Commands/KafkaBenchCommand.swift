import ArgumentParser
import Foundation
import RelayBench
import RelayEngine
import RelayKafka
import RelayTransport

/// `relay kafka bench`: messages per second through Relay's librdkafka wrapper and through kcat, on the same
/// broker, topic layout and message sizes, side by side.
struct KafkaBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Produce and consume throughput of Relay's Kafka wrapper next to kcat's, per message size.",
        discussion:
            "Both produce with enable.idempotence=true and linger.ms=5 to a fresh topic per run, and "
            + "consume it from the beginning. kcat's figures include its start-up (a few ms); Relay's "
            + "consume figure starts at the first message (group join excluded). Needs kcat (apt-get install "
            + "kcat)."
    )

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Messages per size.") var messages = 200_000
    @Option(help: "Message sizes in bytes, comma-separated.") var sizes = "100,1024,10240"
    @Option(help: "Partitions of each benchmark topic.") var partitions = 3
    @Option(help: "The kcat executable.") var kcat = "kcat"
    @Option(help: "Runs per figure; the median is printed (this machine shares its cores with the broker).")
    var repeats = 3
    @Option(help: "Cap the number of messages for sizes above 1 KiB to keep the data moved comparable (bytes).")
    var maxBytes = 1_000_000_000

    func run() async throws {
        let client = try kafka.client(defaultClientID: "relay-bench")
        print(Calibration.line())
        let sizeList = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizeList.isEmpty else { throw CLIFailure("--sizes: expected numbers like 100,1024,10240") }
        let kcatPath = try Self.find(kcat)
        let admin = try KafkaAdmin(configuration: client)
        print(
            "relay kafka bench: brokers \(client.bootstrapServers.joined(separator: ",")), \(partitions) "
                + "partitions, librdkafka \(Librdkafka.version)"
        )
        print("size      messages  relay produce  kcat produce   ratio  relay consume  kcat consume   ratio")
        for size in sizeList {
            let count = max(1, min(messages, maxBytes / max(size, 1)))
            let value = (0..<size).map { UInt8(97 + $0 % 26) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(size).txt")
            try Data(Array(repeating: value + [10], count: count).joined()).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let brokers = client.bootstrapServers.joined(separator: ",")
            var times: (relayProduce: [Double], relayConsume: [Double], kcatProduce: [Double], kcatConsume: [Double]) =
                ([], [], [], [])
            for _ in 0..<max(repeats, 1) {
                let relayTopic = "relay-bench-\(size)-\(UUID().uuidString.prefix(8).lowercased())"
                let kcatTopic = relayTopic + "-kcat"
                _ = try await admin.createTopics(
                    [relayTopic, kcatTopic].map { TopicDeclaration(name: $0, partitions: partitions) })
                times.relayProduce.append(
                    try await Self.produceWithRelay(client: client, topic: relayTopic, value: value, count: count))
                times.relayConsume.append(
                    try await Self.consumeWithRelay(client: client, topic: relayTopic, count: count))
                times.kcatProduce.append(
                    try await Self.timed(
                        kcatPath,
                        [
                            "-P", "-b", brokers, "-t", kcatTopic, "-X", "enable.idempotence=true",
                            "-X", "linger.ms=5", "-l", file.path,
                        ]))
                times.kcatConsume.append(
                    try await Self.timed(
                        kcatPath,
                        [
                            "-C", "-b", brokers, "-t", kcatTopic, "-o", "beginning",
                            "-c", String(count), "-q", "-f", "%o\n",
                        ]))
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let (relayProduce, relayConsume) = (median(times.relayProduce), median(times.relayConsume))
            let (kcatProduce, kcatConsume) = (median(times.kcatProduce), median(times.kcatConsume))
            func rate(_ seconds: Double) -> Double { Double(count) / seconds }
            print(
                [
                    "\(size) B".padding(toLength: 8, withPad: " ", startingAt: 0),
                    String(count).leftPadded(10),
                    Self.format(rate(relayProduce)).leftPadded(15), Self.format(rate(kcatProduce)).leftPadded(14),
                    String(format: "%.2f", kcatProduce / relayProduce).leftPadded(7),
                    Self.format(rate(relayConsume)).leftPadded(15), Self.format(rate(kcatConsume)).leftPadded(14),
                    String(format: "%.2f", kcatConsume / relayConsume).leftPadded(7),
                ].joined(separator: " "))
        }
        print("(msg/s, median of \(max(repeats, 1)) runs; ratio = relay / kcat, 1.00 = as fast as kcat)")
        await admin.close()
    }

    static func produceWithRelay(client: KafkaClientConfiguration, topic: String, value: [UInt8], count: Int)
        async throws -> Double
    {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client))
        let message = KafkaProducerMessage(topic: topic, key: nil, value: value)
        let started = ContinuousClock.now
        // Several sends in flight, each waiting for its delivery reports, as a busy service would produce.
        try await withThrowingTaskGroup(of: Void.self) { group in
            let chunk = 10_000
            for start in stride(from: 0, to: count, by: chunk) {
                let batch = Array(repeating: message, count: min(chunk, count - start))
                group.addTask { _ = try await producer.send(batch) }
                if start / chunk >= 4 { try await group.next() }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - started).seconds
        await producer.close()
        return seconds
    }

    static func consumeWithRelay(client: KafkaClientConfiguration, topic: String, count: Int) async throws -> Double {
        var configuration = KafkaConsumerConfiguration(client: client, groupID: topic + "-group")
        configuration.sessionTimeoutMilliseconds = 6_000
        let consumer = try KafkaConsumer(configuration: configuration, topics: [topic])
        var received = 0
        var started: ContinuousClock.Instant?
        while received < count {
            let batch = try await consumer.nextBatch(maximum: 1000)
            if batch.isEmpty { break }
            if started == nil { started = .now }
            consumer.acknowledge(batch)
            received += batch.count
        }
        let seconds = started.map { (ContinuousClock.now - $0).seconds } ?? 0
        await consumer.close()
        guard received == count else {
            throw CLIFailure("relay consumed \(received) of \(count) messages from \(topic)")
        }
        return seconds
    }

    /// Runs `executable` to its end (through Relay's launcher: awaited, not a blocking wait) and returns how long
    /// it took; its stdout is dropped, its stderr is the bench's.
    static func timed(_ executable: String, _ arguments: [String]) async throws -> Double {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw CLIFailure("bench: cannot open /dev/null") }
        defer { close(null) }
        let started = ContinuousClock.now
        let process = try PluginProcess.spawn(
            command: [executable] + arguments, environment: ProcessInfo.processInfo.environment,
            workingDirectory: nil, stdin: null, stdout: null, stderr: STDERR_FILENO)
        await process.waitForExit()
        guard process.termination == .exited(0) else {
            let ending = process.termination.map(\.description) ?? "was cancelled"
            throw CLIFailure("\(executable) \(arguments.joined(separator: " ")) \(ending)")
        }
        return (ContinuousClock.now - started).seconds
    }

    static func find(_ name: String) throws -> String {
        if name.contains("/") { return name }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw CLIFailure("\(name) not found on PATH: install it with apt-get install kcat, or pass --kcat PATH")
    }

    static func format(_ rate: Double) -> String {
        rate >= 10_000 ? "\(Int(rate / 1000))k" : String(format: "%.0f", rate)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
