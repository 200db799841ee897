import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The example playbook (`examples/project/workflows/triage.yaml`) as `scripts/run` runs it: `relay up` on a copy
/// of the example project, the sample alerts of `examples/alerts` POSTed to its webhook, and what
/// `relay runs list|show` then say.
@Suite(.serialized) struct ExamplePlaybookTests {
    /// The sample alerts beside the example project (what scripts/run and the README tell people to POST).
    static func alert(_ name: String) throws -> String {
        let file = RelayProcess.packageRoot.appendingPathComponent("examples/alerts/\(name).json")
        return try String(contentsOf: file, encoding: .utf8)
    }

    static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    /// A copy of the example's workflows and connections (not any state a local `scripts/run` left in it).
    static func copyExample() throws -> URL {
        let example = RelayProcess.packageRoot.appendingPathComponent("examples/project")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("relay-example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for folder in ["workflows", "connections"] {
            try FileManager.default.copyItem(
                at: example.appendingPathComponent(folder), to: copy.appendingPathComponent(folder))
        }
        return copy
    }

    /// `relay up --port 0`; returns the process and the port it printed.
    static func startRelay(_ directory: URL, log: URL, environment: [String: String] = [:]) async throws
        -> (Process, Int)
    {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", directory.path, "--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            [
                "RELAY_MASTER_KEY": "", "RELAY_MASTER_KEY_FILE": "",
            ].merging(environment) { $1 }
        ) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        var port = 0
        let ready = await waitFor {
            let text = Self.text(log)
            guard let range = text.range(of: "http://127.0.0.1:") else { return !process.isRunning }
            port = Int(text[range.upperBound...].prefix(while: \.isNumber)) ?? 0
            return true
        }
        try #require(ready && process.isRunning && port > 0, "relay up did not start: \(Self.text(log))")
        return (process, port)
    }

    static func post(_ body: String, port: Int) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/webhooks/triage")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    @Test func theTriagePlaybookRunsItsBranchesLoopAndSubWorkflows() async throws {
        let directory = try Self.copyExample()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("relay.log")
        let (relay, port) = try await Self.startRelay(directory, log: log)
        defer { if relay.isRunning { relay.terminate() } }
        #expect(try await Self.post(try Self.alert("beaconing"), port: port) == 202)
        #expect(try await Self.post(try Self.alert("port-scan"), port: port) == 202)

        let store = SQLRunStore(
            readingFrom: try SQLiteDatabase(path: ProjectLayout(root: directory.path).database))
        var triage: [RunSummary] = []
        #expect(
            await waitFor {
                triage = ((try? await store.runs(limit: 100)) ?? []).filter { $0.workflow == "triage" }
                return (triage.count == 2 && triage.allSatisfy { $0.status.isFinished }) || !relay.isRunning
            }, "both alerts' runs finish: \(Self.text(log))")
        var detail: [String: RunDetail] = [:]
        for summary in triage {
            let run = try #require(try await store.run(id: summary.id))
            detail[run.triggerEvent["json"]?["id"]?.stringValue ?? ""] = run
        }
        let high = try #require(detail["ALERT-4711"])
        let low = try #require(detail["ALERT-4712"])
        #expect(high.summary.status == .succeeded, "\(high.summary)")
        #expect(low.summary.status == .succeeded, "\(low.summary)")

        // The decision went one way for each alert, and the case note after it ran once either way.
        func statuses(_ run: RunDetail) -> [String: String] {
            Dictionary(run.steps.map { ($0.stepID, $0.status.rawValue) }) { $1 }
        }
        #expect(statuses(high)["page"] == "succeeded")
        #expect(statuses(high)["ticket"] == "skipped")
        #expect(statuses(low)["page"] == "skipped")
        #expect(statuses(low)["ticket"] == "succeeded")
        #expect(high.steps.filter { $0.stepID == "case_note" }.count == 1)
        #expect(high.output?["case_note"] == "case ALERT-4711, page succeeded, ticket skipped, indicators enriched: 3")
        #expect(low.output?["case_note"] == "case ALERT-4712, page skipped, ticket succeeded, indicators enriched: 1")

        // The loop: one child run of enrich-indicator per distinct indicator, outputs in indicator order.
        let indicators = high.output?["indicators"]?.arrayValue ?? []
        #expect(
            indicators.map { $0["indicator"] } == ["evil.example.net", "198.51.100.23", "cdn.evil.example.net"])
        #expect(indicators.first?["labels"] == ["evil", "example", "net"])
        #expect(indicators.first?["lookup_key"] == .string(Data("evil.example.net".utf8).base64EncodedString()))
        #expect(high.children.count == 3)
        #expect(high.children.allSatisfy { $0.workflow == "enrich-indicator" && $0.status == .succeeded })
        #expect(low.children.count == 1)

        // What an operator sees.
        let list = try await RelayProcess.run(["runs", "list", "--dir", directory.path])
        #expect(list.status == 0, "\(list.stderr)")
        let childLines = list.stdout.split(separator: "\n").filter {
            $0.contains("(child of \(high.summary.id), step enrich)")
        }
        #expect(childLines.count == 3, "\(list.stdout)")
        let show = try await RelayProcess.run(["runs", "show", high.summary.id, "--dir", directory.path])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("  version: "), "\(show.stdout)")
        #expect(show.stdout.contains("  output: {\"alert\":\"ALERT-4711\""), "\(show.stdout)")
        #expect(show.stdout.contains("    items:  3/3 done"), "\(show.stdout)")
        #expect(show.stdout.contains("  sub-workflow runs:"), "\(show.stdout)")

        relay.terminate()
        relay.waitUntilExit()
        #expect(relay.terminationStatus == 0, "SIGTERM drains and exits 0: \(Self.text(log))")
    }
}
