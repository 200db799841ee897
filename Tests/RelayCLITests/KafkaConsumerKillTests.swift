import Foundation
import RelayCore
import RelayKafka
import RelayTransport
import Testing

/// Two `relay kafka consume` processes share a topic in one group; one is killed with SIGKILL mid-stream. Its
/// partitions move to the other, every message is processed, nothing is skipped, and the only duplicates are
/// the killed member's uncommitted tail.
@Suite(.enabled(if: KafkaKill.broker != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"))
struct KafkaConsumerKillTests {
    struct Line: Hashable {
        var partition: Int
        var offset: Int
        var value: String
    }

    func lines(_ file: URL) -> [Line] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        // The killed process may have left half a line: it was never acknowledged, so it is redelivered anyway.
        return text.split(separator: "\n").compactMap { line in
            guard let json = try? JSONParser.parse(String(line)), let partition = json["partition"]?.intValue,
                let offset = json["offset"]?.intValue, let value = json["value"]?.stringValue
            else { return nil }
            return Line(partition: partition, offset: offset, value: value)
        }
    }

    /// Commits every second, so that the killed member leaves an uncommitted tail behind.
    func consume(_ topic: String, group: String, output: URL) throws -> Process {
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = [
            "kafka", "consume", "--brokers", KafkaKill.broker!, "--topic", topic, "--group", group,
            "--session-timeout-ms", "6000", "--commit-interval-ms", "1000",
        ]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func aKilledMembersPartitionsMoveAndNothingIsLost() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let client = KafkaClientConfiguration(bootstrapServers: [KafkaKill.broker!], clientID: "relay-kill-test")
        let topic = "kill-\(UUID().uuidString.prefix(8).lowercased())"
        let group = topic + "-group"
        let admin = try KafkaAdmin(configuration: client)
        _ = try await admin.createTopics([TopicDeclaration(name: topic, partitions: 6)])
        await admin.close()

        let victimOutput = directory.appendingPathComponent("victim.jsonl")
        let survivorOutput = directory.appendingPathComponent("survivor.jsonl")
        let victim = try consume(topic, group: group, output: victimOutput)
        let survivor = try consume(topic, group: group, output: survivorOutput)
        defer {
            for process in [victim, survivor] where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }

        // A steady stream, so that the kill lands while messages are arriving.
        let total = 4000
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client))
        let producing = Task {
            for batch in 0..<(total / 100) {
                _ = try await producer.send(
                    (0..<100).map { index in
                        let n = batch * 100 + index
                        return KafkaProducerMessage(
                            topic: topic, key: Array("key-\(n % 17)".utf8), value: Array("m\(n)".utf8))
                    })
                try await Task.sleep(for: .milliseconds(60))
            }
        }
        #expect(
            await waitFor { lines(victimOutput).count >= 300 && !lines(survivorOutput).isEmpty },
            "both members consume before the kill")
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        try await producing.value
        await producer.close()

        let expected = Set((0..<total).map { "m\($0)" })
        #expect(
            await waitFor {
                Set(lines(victimOutput).map(\.value)).union(lines(survivorOutput).map(\.value)) == expected
            },
            "every message is processed by one member or the other")
        survivor.terminate()
        survivor.waitUntilExit()
        #expect(survivor.terminationStatus == 0, "SIGTERM: commit, leave the group, exit 0")

        let victimLines = lines(victimOutput)
        let survivorLines = lines(survivorOutput)
        let victimKeys = Set(victimLines.map { "\($0.partition)/\($0.offset)" })
        // Nothing skipped: each partition's offsets are contiguous from 0.
        for partition in 0..<6 {
            let offsets = Set((victimLines + survivorLines).filter { $0.partition == partition }.map(\.offset))
            #expect(offsets == Set(0..<offsets.count), "partition \(partition): offsets have a gap")
        }
        // Duplicates are only the killed member's tail: per partition, what both printed is a suffix of the
        // victim's offsets (it had processed them but not yet committed).
        let survivorCounts = Dictionary(grouping: survivorLines, by: { "\($0.partition)/\($0.offset)" })
        #expect(survivorCounts.values.allSatisfy { $0.count == 1 }, "the survivor processed nothing twice")
        for partition in 0..<6 {
            let victimOffsets = victimLines.filter { $0.partition == partition }.map(\.offset).sorted()
            let duplicated = victimOffsets.filter { survivorCounts["\(partition)/\($0)"] != nil }
            #expect(
                duplicated == Array(victimOffsets.suffix(duplicated.count)),
                "partition \(partition): duplicates \(duplicated) are not the victim's uncommitted tail")
        }
        #expect(victimKeys.count == victimLines.count, "the victim processed nothing twice")
        let duplicates = victimLines.filter { survivorCounts["\($0.partition)/\($0.offset)"] != nil }.count
        FileHandle.standardError.write(
            Data(
                ("kafka kill test: victim processed \(victimLines.count), survivor \(survivorLines.count), "
                    + "redone \(duplicates)\n").utf8))
    }
}

enum KafkaKill {
    static let broker = ProcessInfo.processInfo.environment["RELAY_TEST_KAFKA_BROKERS"].flatMap {
        $0.isEmpty ? nil : $0
    }
}
