import Foundation
import RelayCore
import RelayEngine
import RelayStore
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue #14's acceptance: an InsightConnect export, imported with `relay workflow import`, runs end to end under
/// `relay up`, everything as processes, the way a user does it. The export (`Tests/Fixtures/insightconnect/
/// relay-e2e.icon`, hand-written in the corpus's format) uses only plugins Relay runs natively (HashIt, Base64, Type
/// Converter), so that the run needs no Docker image:
///
/// API trigger → Parse Command (pattern match `!block\s+{{host}}`) → Hash Host (hashit, of the match's `host`) →
/// Each File (loop over the trigger's `files`: Hash File → Stop At Marker (break when the item is "STOP") →
/// Encode File) → Severity High? (automated decision: High → Encode Host; Other → List Files) → join → Triage
/// Summary (artifact: `{{#if}}` and `{{#each}}` over the loop's `$outputs`) → Approve Block (human decision, the
/// summary in its question: Block → Block Host; Ignore → Note Ignored).
@Suite(.serialized) struct ImportedWorkflowRunTests {
    static let fixture = RelayProcess.packageRoot.appendingPathComponent(
        "Tests/Fixtures/insightconnect/relay-e2e.icon")
    /// The InsightConnect specs the import checks actions against (beside the package, like the other import tests).
    static let specs = WorkflowImportCommandTests.specs
    static var hasSpecs: Bool { FileManager.default.fileExists(atPath: specs + "/hashit/plugin.spec.yaml") }

    /// No broker, no master key from the environment: the project's embedded bus, nothing to unseal.
    static let environment = [
        "RELAY_BROKERS": "", "RELAY_DIR": "", "RELAY_MASTER_KEY": "", "RELAY_MASTER_KEY_FILE": "",
    ]

    /// What the webhook receives: the alert InsightConnect's API trigger would have received.
    static let alert = """
        {"id": "ALERT-7", "command": "please !Block host-b.example.com now", "severity": "high",
         "files": ["alpha", "bravo", "STOP", "delta"]}
        """

    /// MD5 digests (hashit's `md5`) of the values the run hashes.
    static let md5 = [
        "host-b.example.com": "2f20fbc50912087e0c2a08a9a2a0117a", "alpha": "2c1743a391305fbf367df8e4f069f9f9",
        "bravo": "fd9ab41e47a9ef4f6477a8a000bf404f", "STOP": "615a46af313786fc4e349f34118be111",
    ]

    static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    static func relay(_ arguments: [String]) async throws -> RelayProcess.Result {
        try await RelayProcess.run(arguments, environment: environment)
    }

    /// `relay up --dir DIR --port 0` with stderr in `log`; returns the process and the base URL it printed.
    static func startRelay(_ directory: URL, log: URL) async throws -> (Process, String) {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = RelayProcess.executable
        process.arguments = ["up", "--dir", directory.path, "--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        var base = ""
        let ready = await waitFor {
            let text = Self.text(log)
            guard let range = text.range(of: "http://127.0.0.1:") else { return !process.isRunning }
            let port = text[range.upperBound...].prefix(while: \.isNumber)
            base = port.isEmpty ? "" : "http://127.0.0.1:\(port)"
            return true
        }
        try #require(ready && process.isRunning && !base.isEmpty, "relay up did not start: \(Self.text(log))")
        return (process, base)
    }

    /// POSTs `body` to `url` over a real socket; the HTTP status.
    static func post(_ body: String, to url: String) async throws -> Int {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    /// `relay runs show RUN --json`.
    static func show(_ runID: String, in directory: URL) async throws -> JSONValue {
        let show = try await relay(["runs", "show", runID, "--dir", directory.path, "--json"])
        try #require(show.status == 0, "\(show.stderr)")
        return try JSONParser.parse(show.stdout)
    }

    @Test(.enabled(if: hasSpecs, "the InsightConnect specs are not beside the package"))
    func anImportedWorkflowRunsEndToEndUnderRelayUp() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("relay-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let project = root.appendingPathComponent("project")

        // Import: everything translated, and only the natives used, so no plugins/ or connections/ to fill in.
        let imported = try await Self.relay([
            "workflow", "import", Self.fixture.path, "--specs", Self.specs, "--out", project.path,
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Workflows translated in full: 1 of 1"), "\(imported.stdout)")
        #expect(imported.stdout.contains("Steps translated: 14 of 14 (100.0 %) in full"), "\(imported.stdout)")
        let files = try FileManager.default.contentsOfDirectory(
            atPath: project.appendingPathComponent("workflows").path
        ).sorted()
        #expect(files == ["relay-e2e-triage--each-file.yaml", "relay-e2e-triage.yaml"])
        #expect(!FileManager.default.fileExists(atPath: project.appendingPathComponent("plugins").path))

        let validate = try await Self.relay(["workflow", "validate", "--dir", project.path])
        #expect(validate.status == 0, "relay workflow validate: \(validate.stdout)\(validate.stderr)")
        try #require(validate.status == 0)

        // relay up, and the alert POSTed to the webhook the import wrote (/webhooks/<workflow name>).
        let log = root.appendingPathComponent("relay.log")
        let (relay, base) = try await Self.startRelay(project, log: log)
        defer { if relay.isRunning { relay.terminate() } }
        #expect(try await Self.post(Self.alert, to: "\(base)/webhooks/relay-e2e-triage") == 202)

        // The run waits for the person's decision (its attempt runs, its question asked).
        let store = SQLRunStore(readingFrom: try SQLiteDatabase(path: ProjectLayout(root: project.path).database))
        var runID = ""
        let waiting = await waitFor {
            let runs = ((try? await store.runs(limit: 20)) ?? []).filter { $0.workflow == "relay-e2e-triage" }
            guard let run = runs.first else { return !relay.isRunning }
            runID = run.id
            guard let detail = try? await store.run(id: run.id) else { return false }
            return detail.summary.status.isFinished
                || detail.steps.contains { $0.stepID == "approve_block" && $0.status == .running }
        }
        try #require(waiting && relay.isRunning, "the decision never waited: \(Self.text(log))")
        let asked = try await Self.show(runID, in: project)
        try #require(asked["status"] == "running", "\(asked)")
        let decision = try #require(asked["steps"]?.arrayValue?.last { $0["step"] == "approve_block" })
        #expect(decision["status"] == "running")
        #expect(decision["input"]?["options"] == ["Block", "Ignore"])
        // The question holds the summary artifact, as InsightConnect showed the artifact with the decision.
        let question = decision["input"]?["question"]?.stringValue ?? ""
        #expect(question.hasPrefix("Approve Block\n\n# Triage ALERT-7"), "\(question)")

        // The person answers from the command line; the run goes on along the answer's branch.
        let answer = try await Self.relay([
            "runs", "answer", runID, "approve_block", "Block", "--by", "analyst", "--dir", project.path, "--wait", "90",
        ])
        #expect(answer.status == 0, "\(answer.stderr)")
        #expect(
            await waitFor {
                (try? await store.run(id: runID))?.summary.status.isFinished == true || !relay.isRunning
            }, "the run finishes: \(Self.text(log))")

        let run = try await Self.show(runID, in: project)
        #expect(run["status"] == "succeeded", "\(run)")
        var latest: [String: JSONValue] = [:]
        for step in run["steps"]?.arrayValue ?? [] {
            if let id = step["step"]?.stringValue { latest[id] = step }
        }
        func status(_ step: String) -> String? { latest[step]?["status"]?.stringValue }

        // The pattern match caught the host (ignoring case), and its capture fed the hash and the block.
        #expect(latest["parse_command"]?["output"] == ["matched": true, "host": "host-b.example.com"])
        #expect(latest["hash_host"]?["input"] == ["string": "host-b.example.com"])
        #expect(latest["hash_host"]?["output"]?["md5"] == .string(Self.md5["host-b.example.com"]!))

        // The automated decision: severity "high" took High; the Other branch's step was skipped. The join ran the
        // summary once.
        #expect(status("encode_host") == "succeeded")
        #expect(
            latest["encode_host"]?["output"] == ["data": .string(Data("host-b.example.com".utf8).base64EncodedString())]
        )
        #expect(status("list_files") == "skipped")
        #expect(run["steps"]?.arrayValue?.filter { $0["step"] == "triage_summary" }.count == 1)
        #expect(status("triage_summary") == "succeeded")

        // The loop: items alpha, bravo and STOP ran; STOP's run left the loop at the break, so delta never ran.
        let loop = try #require(latest["each_file"])
        #expect(loop["status"] == "succeeded", "\(loop)")
        let items = loop["items"]?.arrayValue ?? []
        #expect(items.map { $0["status"]?.stringValue ?? "" } == ["succeeded", "succeeded", "succeeded", "skipped"])
        let outputs = loop["output"]?.arrayValue ?? []
        try #require(outputs.count == 4, "\(loop)")
        for (index, file) in ["alpha", "bravo", "STOP"].enumerated() {
            #expect(outputs[index]["hash_file"]?["md5"] == .string(Self.md5[file]!), "item \(index): \(outputs[index])")
        }
        // alpha and bravo went past the break (not taken) to Encode File; STOP stopped at it.
        #expect(outputs[0]["encode_file"]?["data"] == .string(Data("alpha".utf8).base64EncodedString()))
        #expect(outputs[1]["stop_at_marker"] == ["broke": false])
        #expect(outputs[2]["stop_at_marker"]?["broke"] == true)
        #expect(outputs[2]["encode_file"] == .null)
        #expect(outputs[3] == .null, "delta did not run")
        let children = run["children"]?.arrayValue ?? []
        #expect(children.count == 3, "one sub-workflow run per item that ran: \(children)")

        // The artifact: the Handlebars template rendered to Markdown ({{#if}} on the match, {{#each}} over the
        // loop's outputs, the items that ran).
        let expected = """
            # Triage ALERT-7

            Command: block `host-b.example.com` (MD5 \(Self.md5["host-b.example.com"]!))

            ## Files
            - 0: \(Self.md5["alpha"]!)
            - 1: \(Self.md5["bravo"]!)
            - 2: \(Self.md5["STOP"]!)

            """
        let artifact = try await Self.relay(["runs", "artifact", runID, "Triage Summary", "--dir", project.path])
        #expect(artifact.status == 0, "\(artifact.stderr)")
        #expect(artifact.stdout == expected)
        let listed = run["artifacts"]?.arrayValue ?? []
        #expect(listed.count == 1)
        #expect(listed.first?["format"] == "markdown")
        #expect(latest["triage_summary"]?["output"]?["content"] == .string(expected))

        // The person's answer took the Block branch; Ignore's step was skipped.
        #expect(latest["approve_block"]?["output"]?["option"] == "Block")
        #expect(latest["approve_block"]?["output"]?["answered_by"] == "analyst")
        #expect(status("block_host") == "succeeded")
        #expect(
            latest["block_host"]?["output"]
                == ["data": .string(Data("block host-b.example.com".utf8).base64EncodedString())])
        #expect(status("note_ignored") == "skipped")

        relay.terminate()
        relay.waitUntilExit()
        #expect(relay.terminationStatus == 0, "SIGTERM drains and exits 0: \(Self.text(log))")
    }
}
