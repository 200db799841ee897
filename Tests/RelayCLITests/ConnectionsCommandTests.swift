import Foundation
import RelayCore
import RelayEngine
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `relay connections …` as a user runs it, and `relay up` with an encrypted connection: the secret is nowhere
/// in clear (connection file, run store, bus, logs, `relay runs show`).
@Suite struct ConnectionsCommandTests {
    static let weakKey = "weak-KEY-42"
    static let goodKey = "strong-KEY-0123456789-abcdef"

    func withProject(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-conn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.path)
    }

    func fileBytes(_ paths: [String]) -> [UInt8] {
        paths.flatMap { (try? Data(contentsOf: URL(fileURLWithPath: $0))).map(Array.init) ?? [] }
    }

    @Test func addListShowTestRotateAndRemove() async throws {
        try await withProject { dir in
            let added = try await RelayProcess.run(
                ["connections", "add", "greeter", "--plugin", "hello", "--dir", dir, "--json", "-"],
                stdin: #"{"greeting": "Hi", "api_key": {"secretKey": "\#(Self.weakKey)"}}"#)
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.stdout.contains("encrypted: api_key"))
            #expect(added.stderr.contains("created master key"))
            let file = "\(dir)/connections/greeter.yaml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(!text.contains(Self.weakKey) && text.contains("relay-secret:v1:"))

            let list = try await RelayProcess.run(["connections", "list", "--dir", dir])
            #expect(list.stdout == "greeter  hello  greeting, api_key (encrypted)\n")
            let show = try await RelayProcess.run(["connections", "show", "greeter", "--dir", dir])
            #expect(show.stdout.contains(#""api_key": "********""#) && !show.stdout.contains(Self.weakKey))

            let failing = try await RelayProcess.run(["connections", "test", "greeter", "--dir", dir])
            #expect(failing.status == 1)
            #expect(
                failing.stdout == """
                    failed: connection greeter (hello)
                      cause: The greeting service rejected the API key.
                      assistance: Copy the whole key (16 characters or more) from the service's settings page.

                    """)
            let replaced = try await RelayProcess.run([
                "connections", "add", "greeter", "--plugin", "hello", "--dir", dir, "--force", "--json",
                #"{"greeting": "Hi", "api_key": {"secretKey": "\#(Self.goodKey)"}}"#,
            ])
            #expect(replaced.status == 0)
            let passing = try await RelayProcess.run(["connections", "test", "greeter", "--dir", dir])
            #expect(passing.status == 0)
            #expect(passing.stdout == "ok: connection greeter (hello) works: {\"success\":true}\n")

            let before = try String(contentsOfFile: file, encoding: .utf8)
            let rotated = try await RelayProcess.run(["connections", "rotate-key", "--dir", dir])
            #expect(rotated.status == 0, "\(rotated.stderr)")
            #expect(rotated.stdout.hasPrefix("re-encrypted 1 connection under master key "))
            #expect(try String(contentsOfFile: file, encoding: .utf8) != before)
            #expect(try await RelayProcess.run(["connections", "test", "greeter", "--dir", dir]).status == 0)

            // A wrong key: a clear error, no secret.
            let wrong = try await RelayProcess.run(
                ["connections", "test", "greeter", "--dir", dir],
                environment: ["RELAY_MASTER_KEY": Data(repeating: 7, count: 32).base64EncodedString()])
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("parameters.api_key: encrypted under master key "))
            #expect(wrong.stderr.contains("but the master key from RELAY_MASTER_KEY is "))
            #expect(!wrong.stderr.contains(Self.goodKey) && !wrong.stdout.contains(Self.goodKey))

            let invalid = try await RelayProcess.run([
                "connections", "add", "bad", "--plugin", "hello", "--dir", dir, "--json",
                #"{"api_key": {"secretKey": "\#(Self.goodKey)"}}"#,
            ])
            #expect(invalid.status != 0)
            #expect(invalid.stderr.contains("parameters.greeting: required property is missing"))

            let removed = try await RelayProcess.run(["connections", "remove", "greeter", "--dir", dir])
            #expect(removed.status == 0)
            #expect(!FileManager.default.fileExists(atPath: file))
        }
    }

    @Test func theSecretIsNowhereInClearAfterRuns() async throws {
        try await withProject { dir in
            let key = Data((0..<32).map { UInt8($0 * 7 % 256) }).base64EncodedString()
            let environment = ["RELAY_MASTER_KEY": key]
            let added = try await RelayProcess.run(
                [
                    "connections", "add", "greeter", "--plugin", "hello", "--dir", dir, "--json",
                    #"{"greeting": "Hey", "api_key": {"secretKey": "\#(Self.goodKey)"}}"#,
                ], environment: environment)
            #expect(added.status == 0, "\(added.stderr)")
            #expect(
                !FileManager.default.fileExists(atPath: "\(dir)/.relay/master.key"),
                "the key comes from the environment")
            try FileManager.default.createDirectory(atPath: "\(dir)/workflows", withIntermediateDirectories: true)
            try """
            name: greet
            trigger: {plugin: webhook, trigger: webhook, input: {path: greet}}
            steps:
              - {id: hello, plugin: hello, action: greet, connection: greeter,
                 input: {names: ["{{ trigger.json.name }}"]}}
            """.write(toFile: "\(dir)/workflows/greet.yaml", atomically: true, encoding: .utf8)

            let port = try LoopbackPort.free()
            let logFile = "\(dir)/relay-up.log"
            FileManager.default.createFile(atPath: logFile, contents: nil)
            let process = Process()
            process.executableURL = RelayProcess.executable
            process.arguments = ["up", "--dir", dir, "--port", String(port)]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
            process.standardOutput = log
            process.standardError = log
            try process.run()
            defer { if process.isRunning { process.terminate() } }

            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/webhooks/greet")!)
            request.httpMethod = "POST"
            request.httpBody = Data(#"{"name": "Ada"}"#.utf8)
            #expect(
                await waitFor {
                    ((try? await URLSession.shared.data(for: request))?.1 as? HTTPURLResponse)?.statusCode == 202
                })
            let database = try SQLiteDatabase(path: "\(dir)/.relay/relay.sqlite")
            #expect(
                await waitFor {
                    (try? await database.read {
                        try $0.query("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'").first?[0].int
                    }) == 1
                })
            process.terminate()
            process.waitUntilExit()
            let runs = try await RelayProcess.run(["runs", "list", "--dir", dir, "--json"], environment: environment)
            let id = try #require(try JSONParser.parse(runs.stdout).arrayValue?.first?["id"]?.stringValue)
            let shown = try await RelayProcess.run(["runs", "show", id, "--dir", dir], environment: environment)
            #expect(shown.stdout.contains("Hey, Ada!"), "\(shown.stdout)")

            let secret = Array(Self.goodKey.utf8)
            let everything =
                fileBytes([
                    "\(dir)/.relay/relay.sqlite", "\(dir)/.relay/relay.sqlite-wal", "\(dir)/connections/greeter.yaml",
                    logFile,
                ])
                + Array((runs.stdout + shown.stdout + added.stdout + added.stderr).utf8)
            #expect(everything.count > 10_000)
            #expect(!containsBytes(everything, secret), "the secret is in clear somewhere")
        }
    }
}
