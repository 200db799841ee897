import Foundation
import RelayCore
import RelayEngine
import Testing

/// Real plugins for the runner tests: the Python `relay_test` plugin (built on the InsightConnect runtime) and
/// small shell programs that misbehave on purpose.
enum TestPlugins {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The venv python with insightconnect-plugin-runtime (scripts/setup-python), or nil. A python that cannot
    /// import the runtime does not count (the venv `scripts/setup-browser` makes for selenium has none until
    /// `scripts/setup-python` has run): its tests skip, saying why, instead of failing.
    static let python: String? = {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["RELAY_TEST_PYTHON"],
            packageRoot.appendingPathComponent(".build/python/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { path in
            guard FileManager.default.isExecutableFile(atPath: path) else { return false }
            let check = Process()
            check.executableURL = URL(fileURLWithPath: path)
            check.arguments = ["-c", "import insightconnect_plugin_runtime"]
            check.standardOutput = FileHandle.nullDevice
            check.standardError = FileHandle.nullDevice
            guard (try? check.run()) != nil else { return false }
            check.waitUntilExit()
            return check.terminationStatus == 0
        }
    }()

    static var hasPython: Bool { python != nil }
    static let noPythonReason: Comment =
        "no Python with insightconnect-plugin-runtime: run scripts/setup-python (scripts/test does)"

    static var relayTest: ExternalPlugin {
        var environment = ExternalPlugin.minimalEnvironment
        environment["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
        return ExternalPlugin(
            command: [
                python ?? "/nonexistent/python",
                packageRoot.appendingPathComponent("Tests/Fixtures/python/relay_test_plugin/bin/relay_test").path,
            ],
            environment: environment)
    }

    static let connection: JSONValue = [
        "api_key": ["secretKey": "s3cr3t-KEY-0123456789"], "base_url": "https://example.com",
    ]

    /// A plugin that is a shell script.
    static func shell(_ script: String) -> ExternalPlugin {
        ExternalPlugin(command: ["/bin/sh", "-c", script, "plugin"])
    }
}
