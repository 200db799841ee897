import Foundation
import Testing

/// `relay workflow import` as a process: the project it writes, its report, a file it cannot read, and what
/// `relay workflow validate` then asks the user to fill in.
@Suite struct WorkflowImportCommandTests {
    static let shared = RelayProcess.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    static let specs = shared.appendingPathComponent("insightconnect/specs").path
    static let exports = shared.appendingPathComponent("insightconnect-workflows/workflows").path
    static var hasCorpus: Bool {
        FileManager.default.fileExists(atPath: specs) && FileManager.default.fileExists(atPath: exports)
    }

    @Test(.enabled(if: hasCorpus, "the corpus is not beside the package"))
    func importsWritesTheProjectAndReportsAFileItCannotRead() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.icon")
        try #"{"kom": {"workflowVersions": [{"name": 7}], "triggers": [{}]}}"#.write(
            to: bad, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("project").path
        let result = try await RelayProcess.run(
            [
                "workflow", "import", "\(Self.exports)/Suspend_User_in_Azure_AD_from_Microsoft_Teams.icon", bad.path,
                "--specs", Self.specs, "--out", out, "--json",
            ])
        #expect(!result.signalled)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("\(bad.path): kom.workflowVersions[0].name: expected a string, found integer"))
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let summary = report?["summary"] as? [String: Any]
        #expect(summary?["exports"] as? Int == 1)
        #expect(summary?["unreadable"] as? Int == 1)
        for file in [
            "workflows/disable-user-in-azure-ad-from-microsoft-teams.yaml", "plugins/azure_ad_admin.yaml",
            "plugins/microsoft_teams.yaml", "connections/azure_ad_admin.yaml", "import-report.md",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(file) is written")
        }
        let plugin = try String(contentsOfFile: "\(out)/plugins/azure_ad_admin.yaml", encoding: .utf8)
        #expect(plugin.contains(#"command: [docker, run, "--rm", "-i", "rapid7/azure_ad_admin:6.0.0"]"#))

        // The connection holds no invented secret: validation names each field still to fill in (null).
        let validate = try await RelayProcess.run(
            ["workflow", "validate", "--dir", out], environment: ["RELAY_MASTER_KEY": "", "RELAY_MASTER_KEY_FILE": ""])
        #expect(validate.status == 2)
        #expect(validate.stderr.contains("connections/azure_ad_admin.yaml"), "\(validate.stderr)")
        for field in [
            "tenant_id: expected string", "application_id: expected string", "application_secret: expected object",
        ] {
            #expect(validate.stderr.contains("parameters.\(field), found null"), "\(validate.stderr)")
        }
    }
}
