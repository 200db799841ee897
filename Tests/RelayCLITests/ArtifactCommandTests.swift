import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTransport
import Testing

/// `relay runs show`, `relay runs artifact` and `relay artifacts list|show` as processes, over a run store file the
/// test writes the way the dispatcher does.
@Suite struct ArtifactCommandTests {
    static let summary = "# Alert 7\n\n- host-a\n- host-é\n"

    /// A project directory whose run store holds run-1 (two artifacts), run-2 (one), run-3 (none) and two global
    /// artifacts; removed afterwards.
    static func withProject(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-artifacts-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: ProjectLayout(root: directory.path).database)
        let store = try SQLRunStore(bus: try EmbeddedBus(database: database))
        _ = try await store.transaction(acknowledging: []) { tx throws -> (Void, [BusMessage]) in
            for run in ["run-1", "run-2", "run-3"] {
                let event = TriggerEvent(id: "e-\(run)", instance: "i", output: [:])
                _ = try tx.createRun(id: run, workflow: "triage", event: event)
            }
            func add(_ runID: String, _ stepID: String, _ name: String, _ format: RunArtifact.Format, _ content: String)
                throws
            {
                try tx.addArtifact(
                    RunArtifact(
                        runID: runID, stepID: stepID, jobID: "\(runID)/\(stepID)/1", name: name, format: format,
                        content: content, createdAt: 1_000))
            }
            try add("run-1", "summary", "Alert summary", .markdown, Self.summary)
            try add("run-1", "report", "Report", .html, "<p>ok</p>")
            try add("run-2", "note", "note", .text, "only one, no newline")
            for host in ["a", "b"] {
                _ = try tx.appendGlobalArtifact(
                    name: "Asset Exclusion List", entry: ["host": .string(host)], runID: "run-1", stepID: "remember")
            }
            _ = try tx.appendGlobalArtifact(name: "Allow", entry: ["n": 1], runID: "run-2", stepID: "remember")
            return ((), [])
        }
        try await body(directory.path)
    }

    static func relay(_ arguments: [String], _ dir: String) async throws -> RelayProcess.Result {
        try await RelayProcess.run(arguments + ["--dir", dir])
    }

    @Test func runsShowListsTheRunsArtifactsAndTheirContentInJSON() async throws {
        try await Self.withProject { dir in
            let show = try await Self.relay(["runs", "show", "run-1"], dir)
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout.contains("  artifacts (relay runs artifact run-1 NAME prints one):"), "\(show.stdout)")
            let size = Self.summary.utf8.count
            #expect(
                show.stdout.contains("    Alert summary  (step summary, markdown, \(size) bytes)"), "\(show.stdout)")
            #expect(show.stdout.contains("    Report  (step report, html, 9 bytes)"), "\(show.stdout)")
            let none = try await Self.relay(["runs", "show", "run-3"], dir)
            #expect(none.status == 0 && !none.stdout.contains("artifacts"), "\(none.stdout)")

            let json = try await Self.relay(["runs", "show", "run-1", "--json"], dir)
            let artifacts = try JSONParser.parse(json.stdout)["artifacts"]?.arrayValue
            #expect(artifacts?.map { $0["name"] } == ["Alert summary", "Report"])
            #expect(artifacts?.first?["content"] == .string(Self.summary))
            #expect(artifacts?.first?["size"] == .int(size))
        }
    }

    @Test func runsArtifactPrintsTheContentAsItIs() async throws {
        try await Self.withProject { dir in
            let only = try await Self.relay(["runs", "artifact", "run-2"], dir)
            #expect(only.status == 0, "\(only.stderr)")
            #expect(only.stdout == "only one, no newline")
            let named = try await Self.relay(["runs", "artifact", "run-1", "Alert summary"], dir)
            #expect(named.stdout == Self.summary)
            let byStep = try await Self.relay(["runs", "artifact", "run-1", "report"], dir)
            #expect(byStep.stdout == "<p>ok</p>")
            let json = try await Self.relay(["runs", "artifact", "run-1", "Report", "--json"], dir)
            let artifact = try JSONParser.parse(json.stdout)
            #expect(artifact["format"] == "html" && artifact["step"] == "report" && artifact["content"] == "<p>ok</p>")
        }
    }

    @Test(arguments: [
        (["run-1"], "run run-1 has 2 artifacts; name one: \"Alert summary\" (step summary), \"Report\" (step report)"),
        (["run-1", "Summary"], "run run-1 has no artifact named \"Summary\"; its artifacts: \"Alert summary\""),
        (["run-3"], "run run-3 has no artifacts"),
        (["run-nope"], "no run run-nope"),
    ])
    func runsArtifactRefusesWhatItCannotChoose(arguments: [String], message: String) async throws {
        try await Self.withProject { dir in
            let result = try await Self.relay(["runs", "artifact"] + arguments, dir)
            #expect(result.status == 1 && !result.signalled)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test func artifactsListAndShowGiveTheGlobalArtifactsAndTheirEntries() async throws {
        try await Self.withProject { dir in
            let list = try await Self.relay(["artifacts", "list"], dir)
            #expect(list.status == 0, "\(list.stderr)")
            let lines = list.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.hasPrefix("Allow  1 entries  updated ") == true, "\(list.stdout)")
            #expect(lines.last?.hasPrefix("Asset Exclusion List  2 entries  updated ") == true, "\(list.stdout)")
            let listed = try JSONParser.parse(try await Self.relay(["artifacts", "list", "--json"], dir).stdout)
            #expect(listed.arrayValue?.map { $0["name"] } == ["Allow", "Asset Exclusion List"])
            #expect(listed.arrayValue?.map { $0["entries"] } == [1, 2])

            let show = try await Self.relay(["artifacts", "show", "Asset Exclusion List"], dir)
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout == "{\"host\":\"a\"}\n{\"host\":\"b\"}\n")
            let json = try await Self.relay(["artifacts", "show", "Asset Exclusion List", "--json"], dir)
            #expect(try JSONParser.parse(json.stdout) == [["host": "a"], ["host": "b"]])

            let unknown = try await Self.relay(["artifacts", "show", "Nope"], dir)
            #expect(unknown.status == 1)
            #expect(
                unknown.stderr.contains(
                    "no global artifact named \"Nope\"; global artifacts: \"Allow\", \"Asset Exclusion List\""),
                "\(unknown.stderr)")
        }
    }
}
