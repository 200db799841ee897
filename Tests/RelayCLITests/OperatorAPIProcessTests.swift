import Foundation
import RelayCore
import RelayTestSupport
import Testing

/// The operator's API of a real `relay up` process, as a user meets it: the first start prints the web UI's address
/// with a token, the UI's files are served without a token, that token opens the API, `relay tokens` adds and
/// revokes tokens while it runs, a restart creates no second token, and `RELAY_API_TOKEN` is accepted.
@Suite struct OperatorAPIProcessTests {
    @Test func theFirstStartPrintsATokenThatOpensTheAPI() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-api-up-\(UUID())")
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
        name: hook
        trigger: {plugin: webhook, trigger: webhook, input: {path: hook}}
        steps:
          - {id: encode, plugin: base64, action: encode, input: {content: "n {{ trigger.json.n }}"}}
        """.write(to: workflows.appendingPathComponent("hook.yaml"), atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("relay.log")
        let (relay, port) = try await ExamplePlaybookTests.startRelay(directory, log: log)
        defer { if relay.isRunning { relay.terminate() } }
        let base = "http://127.0.0.1:\(port)/api/v1"
        let text = ExamplePlaybookTests.text(log)
        let marker = "http://127.0.0.1:\(port)/?token="
        let range = try #require(text.range(of: marker), "\(text)")
        let token = String(text[range.upperBound...].prefix { !$0.isWhitespace })
        #expect(token.hasPrefix("relay_") && token.count == 49, "\(text)")
        func auth(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

        // The address opens the web UI: its page and files need no token (the data they read does).
        let page = try await TestHTTP.send("GET", "http://127.0.0.1:\(port)/?token=\(token)")
        #expect(page.status == 200 && page.text.contains("/ui/app.js"), "\(page.text)")
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        #expect(page.headers["referrer-policy"] == "no-referrer", "the address with the token is never sent on")
        let script = try await TestHTTP.send("GET", "http://127.0.0.1:\(port)/ui/app.js")
        #expect(script.status == 200 && script.text.contains("from \"./common.js\""))
        #expect(script.headers["content-type"]?.hasPrefix("text/javascript") == true)
        let module = try await TestHTTP.send("GET", "http://127.0.0.1:\(port)/ui/common.js")
        #expect(module.status == 200 && module.text.contains("history.replaceState"))
        for missing in ["nothing.js", "app.swift", "..%2FOperatorUI.swift", ".js"] {
            let reply = try await TestHTTP.send("GET", "http://127.0.0.1:\(port)/ui/\(missing)")
            #expect(reply.status == 404, "\(missing): \(reply.status)")
        }
        let style = try await TestHTTP.send("GET", "http://127.0.0.1:\(port)/ui/app.css")
        #expect(style.status == 200 && style.headers["content-type"]?.hasPrefix("text/css") == true)

        #expect(try await TestHTTP.send("GET", base + "/runs").status == 401)
        #expect(try await TestHTTP.send("GET", base + "/runs", headers: auth(token)).status == 200)
        let started = try await TestHTTP.send(
            "POST", base + "/workflows/hook/runs",
            headers: auth(token).merging(["Content-Type": "application/json"]) { $1 },
            body: Data(#"{"json": {"n": 3}}"#.utf8))
        #expect(started.status == 202, "\(started.text)")
        let runID = try #require(try JSONParser.parse(started.text)["run_id"]?.stringValue)
        var run: JSONValue = .null
        #expect(
            await waitFor {
                let reply = try? await TestHTTP.send("GET", base + "/runs/\(runID)", headers: auth(token))
                run = (reply.flatMap { try? JSONParser.parse($0.text) }) ?? .null
                return run["status"] == "succeeded"
            }, "\(run)")
        #expect(run["steps"]?.arrayValue?.first?["output"]?["data"] == .string(Data("n 3".utf8).base64EncodedString()))

        // A token made while it runs opens it at once; revoked, it does not.
        let created = try await RelayProcess.run(["tokens", "create", "ci", "--dir", directory.path])
        let second = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await TestHTTP.send("GET", base + "/workflows", headers: auth(second)).status == 200)
        #expect(try await RelayProcess.run(["tokens", "revoke", "ci", "--dir", directory.path]).status == 0)
        #expect(try await TestHTTP.send("GET", base + "/workflows", headers: auth(second)).status == 401)

        // A restart creates no second token; RELAY_API_TOKEN is accepted besides the stored ones.
        relay.terminate()
        relay.waitUntilExit()
        let again = directory.appendingPathComponent("relay-2.log")
        let (restarted, newPort) = try await ExamplePlaybookTests.startRelay(
            directory, log: again, environment: ["RELAY_API_TOKEN": "relay_from-the-environment"])
        defer { if restarted.isRunning { restarted.terminate() } }
        #expect(!ExamplePlaybookTests.text(again).contains("created API token"), "\(ExamplePlaybookTests.text(again))")
        let newBase = "http://127.0.0.1:\(newPort)/api/v1"
        #expect(try await TestHTTP.send("GET", newBase + "/runs", headers: auth(token)).status == 200)
        #expect(
            try await TestHTTP.send("GET", newBase + "/runs", headers: auth("relay_from-the-environment")).status == 200
        )
    }
}
