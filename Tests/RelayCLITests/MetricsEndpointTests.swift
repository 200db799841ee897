import Foundation
import RelayEngine
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real `relay up` process serves its own `/metrics`: the pipeline's labelled series and Hummingbird's HTTP
/// metrics (through the `MetricsSystem` the executable bootstraps) in one registry.
@Suite struct MetricsEndpointTests {
    @Test func relayUpServesRunAndHTTPMetricsAfterAWebhookRun() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-metrics-\(UUID())")
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

        // The HTTP server may listen before the trigger host has registered the path.
        #expect(await waitFor { (try? await Self.post(port: port)) == 202 })
        typealias Name = PipelineMetrics.Name
        var text = ""
        #expect(
            await waitFor {
                text = (try? await Self.metrics(port: port)) ?? ""
                return PipelineMetrics.value(
                    of: Name.runsFinished, labels: ["workflow": "hook", "status": "succeeded"], in: text) == 1
            }, "\(text)\n\(ExamplePlaybookTests.text(log))")
        // Scraped again: the scrapes before this one are counted too.
        text = try await Self.metrics(port: port)
        #expect(PipelineMetrics.value(of: Name.runsStarted, labels: ["workflow": "hook"], in: text) == 1)
        #expect(
            PipelineMetrics.value(
                of: Name.jobs, labels: ["workflow": "hook", "plugin": "base64", "status": "succeeded"], in: text) == 1)
        #expect(
            PipelineMetrics.value(
                of: Name.stepDuration + "_bucket", labels: ["plugin": "base64", "action": "encode", "le": "+Inf"],
                in: text) == 1)
        // Hummingbird's middleware, renamed: the accepted webhook (a 404 before the path was registered may
        // precede it).
        let accepted = PipelineMetrics.samples(in: text).filter {
            $0.name == "relay_http_requests_total" && $0.labels["method"] == "POST" && $0.labels["status"] == "202"
        }
        #expect(accepted.map(\.value).reduce(0, +) >= 1, "\(text)")
        #expect(accepted.allSatisfy { $0.labels["route"]?.hasPrefix("/webhooks") == true }, "\(accepted)")
        #expect(text.contains("# TYPE relay_http_request_duration_seconds histogram"), "\(text)")
        #expect(
            PipelineMetrics.value(
                of: "relay_http_requests_total", labels: ["method": "GET", "route": "/metrics", "status": "200"],
                in: text) >= 1, "\(text)")
    }

    static func post(port: Int) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/webhooks/hook")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"n": 1}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    static func metrics(port: Int) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        return String(decoding: data, as: UTF8.self)
    }
}
