import Foundation
import RelayEngine
import RelayTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A native plugin executable, as a user runs it: stdin/stdout and the HTTP API.
@Suite struct PluginExecutableTests {
    static func executable(_ name: String) -> String {
        RelayProcess.executable.deletingLastPathComponent().appendingPathComponent(name).path
    }

    func run(_ plugin: String, _ arguments: [String], stdin: String? = nil) async throws -> RelayProcess.Result {
        try await RelayProcess.run(arguments, stdin: stdin, executable: URL(fileURLWithPath: Self.executable(plugin)))
    }

    @Test func runReadsOneMessageAndPrintsTheEnvelope() async throws {
        let ok = try await run(
            "relay-plugin-base64", ["run"],
            stdin: #"{"version":"v1","type":"action_start","body":{"action":"encode","meta":{"jobId":"j1"},"#
                + #""input":{"content":"hi"},"connection":{}}}"#
        )
        #expect(ok.status == 0)
        #expect(
            ok.stdout
                == #"{"body":{"log":"","status":"ok","meta":{"jobId":"j1"},"output":{"data":"aGk="}},"#
                + #""version":"v1","type":"action_event"}"# + "\n")
        let bad = try await run(
            "relay-plugin-base64", ["run"],
            stdin:
                #"{"version":"v1","type":"action_start","body":{"action":"nope","meta":{},"input":{},"connection":{}}}"#
        )
        #expect(bad.status == 1)
        #expect(bad.stdout.contains(#""error":"Unknown action \"nope\"""#))
        let garbage = try await run("relay-plugin-base64", ["run"], stdin: "not json")
        #expect(garbage.status == 1)
        #expect(garbage.stdout.contains("Input message is not valid JSON: line 1, column 1"))
    }

    @Test func infoSampleAndTest() async throws {
        let info = try await run("relay-plugin-hello", ["info"])
        #expect(info.stdout.hasPrefix("Name:        hello\nVendor:      rapid7\nVersion:     1.0.0\n"))
        #expect(info.stdout.contains("└── greet (Greet one or more people)"))
        let sample = try await run("relay-plugin-hello", ["sample", "greet"])
        #expect(sample.stdout.contains(#""action":"greet""#))
        #expect(sample.stdout.contains(#""greeting":"Hello""#))
        let test = try await run(
            "relay-plugin-hello", ["test"],
            stdin: #"{"version":"v1","type":"connection_test","body":{"connection":{"greeting":"Hi"},"meta":{}}}"#)
        #expect(test.status == 0)
        #expect(test.stdout.contains(#""output":{"success":true}"#))
        #expect(test.stdout.contains(#""type":"connection_test""#))
        let unknown = try await run("relay-plugin-hello", ["sample", "nope"])
        #expect(unknown.status == 1)
    }

    @Test func httpServesTheRuntimesAPIWithItsStatusCodes() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable("relay-plugin-hello"))
        let port = try LoopbackPort.free()
        process.arguments = ["http", "--port", String(port)]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        func request(_ method: String, _ path: String, _ body: String? = nil) async throws -> (Int, String) {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            request.httpBody = body.map { Data($0.utf8) }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
        }
        #expect(await waitFor { (try? await request("GET", "/api/v1/status"))?.0 == 200 }, "the plugin serves HTTP")
        let connection = #""connection":{"greeting":"Hello","api_key":{"secretKey":"s3cr3t-KEY-0123456789"}}"#
        let greet = try await request(
            "POST", "/api/v1/actions/greet",
            #"{"version":"v1","type":"action_start","body":{"action":"greet","meta":{},"#
                + #""input":{"names":["Ada"]},\#(connection)}}"#
        )
        #expect(greet.0 == 200)
        #expect(greet.1.contains(#""text":"Hello, Ada!""#))
        let pluginError = try await request(
            "POST", "/api/v1/actions/greet",
            #"{"version":"v1","type":"action_start","body":{"action":"greet","meta":{},"#
                + #""input":{"names":[]},\#(connection)}}"#
        )
        #expect(pluginError.0 == 400)
        #expect(pluginError.1.contains(#""cause":"Nobody to greet.""#))
        let mismatch = try await request(
            "POST", "/api/v1/actions/greet",
            #"{"version":"v1","type":"action_start","body":{"action":"other","meta":{},"input":{}}}"#)
        #expect(mismatch.0 == 400)
        let test = try await request(
            "POST", "/api/v1/connection/test",
            #"{"version":"v1","type":"connection_test","body":{"meta":{},\#(connection)}}"#)
        #expect(test.0 == 200)
        // A key the service rejects: the runtime's connection-test failure, status 400.
        let rejected = try await request(
            "POST", "/api/v1/connection/test",
            #"{"version":"v1","type":"connection_test","body":{"meta":{},"#
                + #""connection":{"greeting":"Hi","api_key":{"secretKey":"short"}}}}"#
        )
        #expect(rejected.0 == 400)
        #expect(rejected.1.contains("The greeting service rejected the API key."))
        #expect(try await request("GET", "/api/v1/actions").1 == #"["greet"]"#)
        #expect(try await request("GET", "/api/v1/info").1.contains(#""name":"hello""#))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "SIGTERM drains and exits cleanly")
    }

    @Test func aPluginWithoutAConnectionTestAnswers501() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable("relay-plugin-base64"))
        let port = try LoopbackPort.free()
        process.arguments = ["http", "--port", String(port)]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/connection/test")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"version":"v1","type":"connection_test","body":{"meta":{},"connection":{}}}"#.utf8)
        var status = 0
        // The first answer, once the plugin listens.
        #expect(
            await waitFor {
                guard let (_, response) = try? await URLSession.shared.data(for: request) else { return false }
                status = (response as! HTTPURLResponse).statusCode
                return true
            }, "the plugin serves HTTP")
        #expect(status == 501)
    }
}
