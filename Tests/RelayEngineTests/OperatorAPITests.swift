import Foundation
import Logging
import RelayCore
import RelayPlugins
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// The operator's API of `relay up`'s pipeline, over a real socket: every route, its errors, paging and the stream.
@Suite struct OperatorAPITests {
    static let token = "relay_test-token"

    /// A project on disk with the workflows below, its pipeline running with the API on a free port.
    struct Harness {
        let directory: URL
        let port: Int
        let pipeline: EmbeddedPipeline
        var base: String { "http://127.0.0.1:\(port)/api/v1" }

        func send(_ method: String, _ path: String, json: String? = nil, headers: [String: String]? = nil)
            async throws -> HTTPReply
        {
            var fields = headers ?? ["Authorization": "Bearer \(OperatorAPITests.token)"]
            if json != nil && fields["Content-Type"] == nil { fields["Content-Type"] = "application/json" }
            return try await TestHTTP.send(method, base + path, headers: fields, body: json.map { Data($0.utf8) })
        }

        func json(_ method: String, _ path: String, _ body: String? = nil) async throws -> (Int, JSONValue) {
            let reply = try await send(method, path, json: body)
            return (reply.status, (try? JSONParser.parse(reply.text)) ?? .string(reply.text))
        }

        /// Waits until the run's status is `status`.
        func wait(_ runID: String, for status: String) async throws -> JSONValue {
            var run: JSONValue = .null
            let reached = try await waitFor {
                run = try await json("GET", "/runs/\(runID)").1
                return run["status"]?.stringValue == status
            }
            #expect(reached, "run \(runID) did not become \(status): \(run)")
            return run
        }
    }

    static let workflows = [
        "echo.yaml": """
        name: echo
        trigger: {plugin: webhook, trigger: webhook, input: {path: echo}}
        steps:
          - {id: encode, plugin: base64, action: encode, input: {content: "n={{ trigger.n }}"}}
          - id: report
            needs: [encode]
            artifact: {name: report, format: markdown, content: "# Run {{ run.id }}"}
        """,
        // Waits for a person: running with no job in flight (a worker's job would hold the pipeline's shutdown).
        "hold.yaml": """
        name: hold
        steps:
          - {id: wait, decision: {question: "Hold?", options: [Go]}}
        """,
        "ask.yaml": """
        name: ask
        steps:
          - id: approve
            decision: {question: "Go on?", options: [Go, Stop]}
          - id: done
            needs: [approve]
            plugin: base64
            action: encode
            input: {content: "{{ steps.approve.output.option }}"}
        """,
    ]

    static func withHarness(
        bodyLimit: Int = 1 << 20, _ body: @escaping @Sendable (Harness) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-api-\(UUID().uuidString)")
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (file, text) in Self.workflows {
            try text.write(to: workflows.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        var project = try Project.load(directory: directory.path, native: try NativePlugins.all())
        project.connections = ConnectionStore(connections: [
            .init(
                name: "hello-main", plugin: "hello",
                parameters: [
                    "secretKey": "9de5069c5afe602b2ea0a04b66beb2c0", "note": "key 9de5069c5afe602b2ea0a04b66beb2c0",
                ],
                secretFields: ["secretKey"])
        ])
        var configuration = EmbeddedPipeline.Configuration()
        configuration.port = 0
        configuration.printRuns = false
        configuration.reloadInterval = .zero
        configuration.api.bodyLimit = bodyLimit
        configuration.verifyAPIToken = { $0 == OperatorAPITests.token }
        let pipeline = try EmbeddedPipeline(project: project, configuration: configuration)
        let ports = AsyncStream<Int>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run { ports.continuation.yield($0) } }
            defer { group.cancelAll() }
            var iterator = ports.stream.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(Harness(directory: directory, port: port, pipeline: pipeline))
        }
    }

    @Test func everyRouteWantsABearerToken() async throws {
        try await Self.withHarness { api in
            for (method, path) in [
                ("GET", "/runs"), ("GET", "/workflows"), ("POST", "/workflows/echo/runs"),
                ("GET", "/stream"), ("GET", "/connections"), ("GET", "/openapi.json"), ("GET", "/nothing"),
            ] {
                let none = try await api.send(method, path, headers: [:])
                #expect(none.status == 401, "\(method) \(path)")
                let error = try JSONParser.parse(none.text)["error"]
                #expect(error?["code"] == "unauthorized")
                #expect(error?["message"]?.stringValue?.contains("found none") == true, "\(none.text)")
                let wrong = try await api.send(method, path, headers: ["Authorization": "Bearer nope"])
                #expect(wrong.status == 401)
                let basic = try await api.send(method, path, headers: ["Authorization": "Basic YTpi"])
                #expect(basic.status == 401 && basic.text.contains("Basic"), "\(basic.text)")
            }
            let unknown = try await api.json("GET", "/nothing/here")
            #expect(unknown.0 == 404 && unknown.1["error"]?["code"] == "not_found")
            let document = try await api.json("GET", "/openapi.json")
            #expect(document.0 == 200 && document.1["openapi"]?.stringValue?.hasPrefix("3.1") == true)
        }
    }

    @Test func aRunStartedByHandIsListedShownAndStreamed() async throws {
        try await Self.withHarness { api in
            // The stream from the present: the run's start, its steps, its end.
            let stream = Task {
                try await TestHTTP.events(
                    port: api.port, path: "/api/v1/stream?workflow=echo",
                    headers: ["Authorization": "Bearer \(Self.token)"]
                ) { events in events.contains { $0.event == "run" && $0.data.contains("\"succeeded\"") } }
            }
            // The stream has subscribed once the first run of another workflow is on it... here: once it answered.
            try await Task.sleep(for: .milliseconds(1))
            let (status, started) = try await api.json("POST", "/workflows/echo/runs", #"{"n": 7}"#)
            #expect(status == 202, "\(started)")
            let runID = try #require(started["run_id"]?.stringValue)
            let run = try await api.wait(runID, for: "succeeded")
            #expect(run["trigger_event"]?["n"] == .int(7))
            #expect(run["steps"]?.arrayValue?.count == 2)
            #expect(run["graph"]?.arrayValue?.map { $0["step"]?.stringValue ?? "" } == ["encode", "report"])
            // Each attempt's times; the plugin wrote no log.
            let encode = try #require(run["steps"]?.arrayValue?.first)
            #expect(encode["started"]?.stringValue != nil && encode["finished"]?.stringValue != nil, "\(encode)")
            #expect((try? APITime.parse(encode["scheduled"]?.stringValue ?? "", field: "scheduled")) != nil)
            #expect(encode["log"] == .null)
            #expect(run["artifacts"]?.arrayValue?.first?["name"] == "report")

            let (_, events) = try await stream.value
            let ofRun = events.filter { $0.data.contains(runID) }
            #expect(ofRun.first?.event == "run" && ofRun.first?.data.contains("\"running\"") == true, "\(events)")
            #expect(
                ofRun.contains { $0.event == "step" && $0.data.contains("\"encode\"") && $0.data.contains("succeeded") }
            )
            #expect(ofRun.last?.event == "run" && ofRun.last?.data.contains("\"succeeded\"") == true)
            let ids = events.compactMap { $0.id.flatMap { Int($0) } }
            #expect(ids == ids.sorted() && Set(ids).count == ids.count)

            // Resumed with Last-Event-ID: only what came after it.
            let second = try #require(ofRun.dropFirst().first?.id)
            let (_, again) = try await TestHTTP.events(
                port: api.port, path: "/api/v1/stream?run=\(runID)",
                headers: ["Authorization": "Bearer \(Self.token)", "Last-Event-ID": second]
            ) { events in events.contains { $0.event == "run" } }
            #expect(again.first?.id == ofRun.dropFirst(2).first?.id, "\(again)")

            // An id the log cannot continue from (from another store, or past the end of Int64 arithmetic): a reset
            // first, then the stream from the present.
            for id in ["9223372036854775807", "\(Int64(ids.max() ?? 0) + 1000)"] {
                let (status, reset) = try await TestHTTP.events(
                    port: api.port, path: "/api/v1/stream",
                    headers: ["Authorization": "Bearer \(Self.token)", "Last-Event-ID": id]
                ) { events in !events.isEmpty }
                #expect(status.contains("200") && reset.first?.event == "reset", "\(id): \(status) \(reset)")
            }
            let (badStatus, _) = try await TestHTTP.events(
                port: api.port, path: "/api/v1/stream",
                headers: ["Authorization": "Bearer \(Self.token)", "Last-Event-ID": "-3"], seconds: 5
            ) { _ in false }
            #expect(badStatus.contains("400"), "\(badStatus)")

            // Artifacts.
            let artifacts = try await api.json("GET", "/runs/\(runID)/artifacts")
            #expect(artifacts.1["artifacts"]?.arrayValue?.first?["content"] == .string("# Run \(runID)"))
            #expect(try await api.json("GET", "/runs/\(runID)/artifacts/report").1["format"] == "markdown")
            #expect(try await api.json("GET", "/runs/\(runID)/artifacts/nothing").0 == 404)

            // The workflow: valid, its version, its counts.
            let workflow = try await api.json("GET", "/workflows/echo")
            #expect(workflow.0 == 200)
            #expect(workflow.1["valid"] == .bool(true))
            #expect(workflow.1["runs"]?["succeeded"] == .int(1))
            #expect(workflow.1["versions"]?.arrayValue?.count == 1)
            #expect(workflow.1["steps"]?.arrayValue?.last?["kind"] == "artifact")
            #expect(workflow.1["trigger"]?["plugin"] == "webhook")
            // Its graph, placed as a run's is.
            #expect(workflow.1["graph"]?.arrayValue?.map { $0["needs"] ?? .null } == [[], ["encode"]])
            #expect(workflow.1["layout"]?["layers"] == .int(2))
            #expect(try await api.json("GET", "/workflows/nothing").0 == 404)
            #expect(try await api.json("POST", "/workflows/nothing/runs", "{}").0 == 404)
            #expect(try await api.json("GET", "/runs/run-nothing").0 == 404)
        }
    }

    @Test func theStreamTakesEveryLastEventIDItDocuments() async throws {
        try await Self.withHarness { api in
            // The largest id the document allows (it once overflowed computing the id after it).
            for (presented, expected) in [("9223372036854775807", "200"), ("0", "200"), ("-1", "400"), ("x", "400")] {
                let (status, _) = try await TestHTTP.events(
                    port: api.port, path: "/api/v1/stream",
                    headers: ["Authorization": "Bearer \(Self.token)", "Last-Event-ID": presented], seconds: 30
                ) { _ in true }
                #expect(status.hasPrefix("HTTP/1.1 \(expected)"), "Last-Event-ID \(presented): \(status)")
            }
        }
    }

    @Test func runsArePagedByCursorStablyUnderInserts() async throws {
        try await Self.withHarness { api in
            var ids: [String] = []
            for n in 0..<5 {
                let started = try await api.json("POST", "/workflows/echo/runs", #"{"n": \#(n)}"#).1
                let id = try #require(started["run_id"]?.stringValue)
                _ = try await api.wait(id, for: "succeeded")
                ids.append(id)
            }
            let first = try await api.json("GET", "/runs?workflow=echo&limit=2").1
            let cursor = try #require(first["next_cursor"]?.stringValue)
            // A run started between two pages does not shift the next one.
            let newer = try #require(
                try await api.json("POST", "/workflows/echo/runs", #"{"n": 99}"#).1["run_id"]?.stringValue)
            _ = try await api.wait(newer, for: "succeeded")
            var seen = first["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            var next: String? = cursor
            while let page = next {
                let body = try await api.json("GET", "/runs?workflow=echo&limit=2&cursor=\(page)").1
                seen += body["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                next = body["next_cursor"]?.stringValue
            }
            #expect(seen == ids.reversed(), "\(seen)")
            #expect(try await api.json("GET", "/runs?status=succeeded&limit=500").1["runs"]?.arrayValue?.count == 6)
            #expect(try await api.json("GET", "/runs?status=failed").1["runs"]?.arrayValue?.isEmpty == true)
            #expect(
                try await api.json("GET", "/runs?since=2100-01-01T00:00:00Z").1["runs"]?.arrayValue?.isEmpty == true)
            #expect(try await api.json("GET", "/runs?parent=none").1["runs"]?.arrayValue?.count == 6)

            for (query, named) in [
                ("status=done", "status: expected one of running, succeeded, failed, cancelled"),
                ("limit=0", "limit: expected a number from 1 to 500"), ("cursor=xyz", "cursor: expected"),
                ("since=yesterday", "since: expected a time in ISO 8601"),
                ("until=1e300", "until: expected a time from 1970"),
            ] {
                let (status, body) = try await api.json("GET", "/runs?\(query)")
                #expect(status == 400, "\(query)")
                #expect(body["error"]?["message"]?.stringValue?.hasPrefix(named) == true, "\(query): \(body)")
            }
        }
    }

    @Test func cancelResumeAndAnswerGoThroughTheDispatcher() async throws {
        try await Self.withHarness { api in
            let slow = try #require(try await api.json("POST", "/workflows/hold/runs", "{}").1["run_id"]?.stringValue)
            _ = try await api.wait(slow, for: "running")
            let cancel = try await api.json("POST", "/runs/\(slow)/cancel", #"{"reason": "by the test"}"#)
            #expect(cancel.0 == 202 && cancel.1["requested"] == "cancel")
            let cancelled = try await api.wait(slow, for: "cancelled")
            #expect(cancelled["error"]?.stringValue?.contains("by the test") == true, "\(cancelled)")
            let again = try await api.json("POST", "/runs/\(slow)/cancel")
            #expect(again.0 == 409 && again.1["error"]?["code"] == "conflict", "\(again)")
            #expect(try await api.json("POST", "/runs/\(slow)/resume").0 == 202)
            _ = try await api.wait(slow, for: "running")
            #expect(try await api.json("POST", "/runs/\(slow)/resume").0 == 409)
            #expect(try await api.json("POST", "/runs/\(slow)/cancel").0 == 202)
            _ = try await api.wait(slow, for: "cancelled")

            let asked = try #require(try await api.json("POST", "/workflows/ask/runs").1["run_id"]?.stringValue)
            let waiting = try await waitFor {
                let run = try await api.json("GET", "/runs/\(asked)").1
                return run["steps"]?.arrayValue?.first?["status"] == "running"
            }
            #expect(waiting)
            let wrong = try await api.json("POST", "/runs/\(asked)/steps/approve/answer", #"{"option": "Maybe"}"#)
            #expect(wrong.0 == 400 && wrong.1["error"]?["message"]?.stringValue?.contains("\"Go\", \"Stop\"") == true)
            #expect(try await api.json("POST", "/runs/\(asked)/steps/nothing/answer", #"{"option": "Go"}"#).0 == 409)
            #expect(try await api.json("POST", "/runs/\(asked)/steps/approve/answer", "{}").0 == 400)
            let answer = try await api.json(
                "POST", "/runs/\(asked)/steps/approve/answer", #"{"option": "Go", "by": "ops"}"#)
            #expect(answer.0 == 202)
            let done = try await api.wait(asked, for: "succeeded")
            #expect(done["steps"]?.arrayValue?.first?["output"]?["answered_by"] == "ops", "\(done)")
        }
    }

    @Test func badBodiesGetClearErrors() async throws {
        try await Self.withHarness(bodyLimit: 1024) { api in
            let large = try await api.json(
                "POST", "/workflows/echo/runs", #"{"n": ""# + String(repeating: "x", count: 2000) + #""}"#)
            #expect(large.0 == 413 && large.1["error"]?["code"] == "payload_too_large", "\(large)")
            let malformed = try await api.json("POST", "/workflows/echo/runs", "{\n  \"n\": 1,\n}")
            #expect(malformed.0 == 400 && malformed.1["error"]?["code"] == "invalid_json")
            #expect(malformed.1["error"]?["message"]?.stringValue?.contains("line 3, column 1") == true, "\(malformed)")
            let text = try await api.send(
                "POST", "/workflows/echo/runs", json: "{}",
                headers: ["Authorization": "Bearer \(Self.token)", "Content-Type": "text/plain"])
            #expect(text.status == 415 && text.text.contains("text/plain"), "\(text.text)")
            let array = try await api.json("POST", "/runs/x/cancel", "[1]")
            #expect(
                array.0 == 400
                    && array.1["error"]?["message"]?.stringValue?.contains("body: expected a JSON object") == true)
        }
    }

    @Test func workflowsAndConnectionsShowProblemsAndNeverSecrets() async throws {
        try await Self.withHarness { api in
            try "name: broken\nsteps:\n  - {id: a, plugin: nowhere, action: x}\n".write(
                to: api.directory.appendingPathComponent("workflows/broken.yaml"), atomically: true, encoding: .utf8)
            let list = try await api.json("GET", "/workflows").1["workflows"]?.arrayValue ?? []
            #expect(list.compactMap { $0["name"]?.stringValue }.sorted() == ["ask", "echo", "hold"])
            let broken = try #require(list.first { $0["file"] == "broken.yaml" })
            #expect(broken["valid"] == .bool(false))
            #expect(broken["problems"]?.arrayValue?.first?.stringValue?.contains("nowhere") == true, "\(broken)")
            #expect(list.first { $0["name"] == "echo" }?["runs"]?["running"] == .int(0))

            let reply = try await api.send("GET", "/connections")
            #expect(reply.status == 200)
            #expect(!reply.text.contains("9de5069c5afe602b2ea0a04b66beb2c0"), "\(reply.text)")
            let connection = try JSONParser.parse(reply.text)["connections"]?.arrayValue?.first
            #expect(connection?["parameters"]?["secretKey"] == "********")
            #expect(connection?["parameters"]?["note"] == "key ********")
        }
    }

    @Test func deadLettersAreListedRedrivenAndDiscardedAndEventsReplayed() async throws {
        try await Self.withHarness { api in
            try await api.pipeline.bus.publish([
                BusMessage(topic: "relay.events", key: "k", value: Array("not json".utf8))
            ])
            var letters: [JSONValue] = []
            #expect(
                try await waitFor {
                    letters = try await api.json("GET", "/dead-letters").1["dead_letters"]?.arrayValue ?? []
                    return !letters.isEmpty
                })
            let letter = try #require(letters.first)
            #expect(letter["source_topic"] == "relay.events" && letter["excerpt"] == "not json", "\(letter)")
            let id = try #require(letter["id"]?.intValue)
            #expect(
                try await api.json("GET", "/dead-letters/\(id)").1["reason"]?.stringValue?.contains("not an event")
                    == true)
            // Redriven: back on relay.events, where it is dead-lettered again, as a new letter.
            let redriven = try await api.json("POST", "/dead-letters/\(id)/redrive")
            #expect(redriven.0 == 202 && redriven.1["topic"] == "relay.events", "\(redriven)")
            #expect(redriven.1["runs"] == [], "not an event: it starts no run")
            #expect(try await api.json("GET", "/dead-letters/\(id)").0 == 404)
            var again: [JSONValue] = []
            #expect(
                try await waitFor {
                    again = try await api.json("GET", "/dead-letters").1["dead_letters"]?.arrayValue ?? []
                    return !again.isEmpty
                })
            let second = try #require(again.first?["id"]?.intValue)
            #expect(second != id)
            #expect(try await api.json("DELETE", "/dead-letters/\(second)").0 == 200)
            #expect(try await api.json("DELETE", "/dead-letters/\(second)").0 == 404)
            #expect(try await api.json("POST", "/dead-letters/\(second)/redrive").0 == 404)
            #expect(try await api.json("GET", "/dead-letters/abc").0 == 400)
            #expect(try await api.json("GET", "/dead-letters?limit=0").0 == 400)

            // Replay: the manual runs of echo since a minute ago, again, as new events.
            let first = try #require(
                try await api.json("POST", "/workflows/echo/runs", #"{"n": 5}"#).1["run_id"]?.stringValue)
            _ = try await api.wait(first, for: "succeeded")
            let replay = try await api.json(
                "POST", "/events/replay",
                #"{"instance": "manual:echo", "since": "\#(Date().timeIntervalSince1970 - 60)"}"#)
            #expect(replay.0 == 202 && replay.1["published"] == .int(1), "\(replay)")
            #expect(
                try await waitFor {
                    let runs = try await api.json("GET", "/runs?workflow=echo&status=succeeded").1["runs"]?.arrayValue
                    return runs?.count == 2
                })
            let none = try await api.json("POST", "/events/replay", #"{"workflow": "echo", "since": "0"}"#)
            #expect(none.0 == 202 && none.1["published"] == .int(0), "\(none)")
            #expect(try await api.json("POST", "/events/replay", #"{"workflow": "hold", "since": "0"}"#).0 == 400)
            #expect(try await api.json("POST", "/events/replay", #"{"since": "0"}"#).0 == 400)
            #expect(try await api.json("POST", "/events/replay", #"{"workflow": "nothing", "since": "0"}"#).0 == 404)
        }
    }
}
