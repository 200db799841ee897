import Foundation
import RelayCore
import RelayTransport
import Testing

@Suite struct TopicDeclarationTests {
    static let topicsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("topics").path

    @Test func theRepositoryDeclaresRelaysTopics() throws {
        var names: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.topicsDirectory).sorted()
        where file.hasSuffix(".yaml") {
            let path = Self.topicsDirectory + "/" + file
            names += try TopicDeclaration.load(yaml: String(contentsOfFile: path, encoding: .utf8), file: path).map(
                \.name)
        }
        for topic in ["relay.events", "relay.results", "relay.runs", "relay.dlq", "relay.jobs.base64"] {
            #expect(names.contains(topic))
        }
        #expect(Set(names).count == names.count, "a topic is declared twice")
    }

    @Test func readsAListWithDefaultsAndConfig() throws {
        let topics = try TopicDeclaration.load(
            yaml: "topics:\n  - name: a\n  - name: b\n    partitions: 3\n    config: {retention.ms: 1000}\n",
            file: "t.yaml")
        #expect(
            topics == [
                TopicDeclaration(name: "a"),
                TopicDeclaration(name: "b", partitions: 3, config: ["retention.ms": "1000"]),
            ])
    }

    @Test func rejectsABadPartitionCountWithItsLine() {
        #expect {
            try TopicDeclaration.load(yaml: "topics:\n  - name: a\n    partitions: zero\n", file: "t.yaml")
        } throws: { error in
            (error as? RelayError)?.message == "t.yaml:3: topics[0].partitions: expected a positive integer, found zero"
        }
    }

    /// Topic files are read within the same YAML limits as every other file (they used Yams directly).
    @Test func anAliasBombIsAClearError() {
        let levels = (1...8).map { level in
            "    x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]"
        }
        let yaml = "name: t\nconfig:\n    x0: &a0 [a, a, a, a, a, a, a, a, a]\n" + levels.joined(separator: "\n") + "\n"
        #expect {
            try TopicDeclaration.load(yaml: yaml, file: "t.yaml")
        } throws: { error in
            (error as? RelayError)?.message == "t.yaml:8:19: alias *a4 brings the document to 207604 nodes, past the "
                + "limit of 200000 (an alias counts every node it repeats)"
        }
    }
}
