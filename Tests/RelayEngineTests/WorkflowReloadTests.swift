import Foundation
import Logging
import RelayCore
import RelayPlugins
import RelaySpec
import RelayStore
import RelayTestSupport
import Synchronization
import Testing

@testable import RelayEngine

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Hot reload: `WorkflowReload` (what a reload makes of the files), the trigger host's plan, and `relay up`'s
/// pipeline following its workflow files.
@Suite struct WorkflowReloadTests {
    static let validator = WorkflowValidator(
        catalog: PluginCatalog(native: try! NativePlugins.all()), connections: ConnectionStore())

    /// A webhook workflow whose one step encodes `content`; with `calls`, a step that runs that sub-workflow first.
    static func text(_ name: String, content: String = "v1", calls: String? = nil, trigger: Bool = true) -> String {
        """
        name: \(name)
        \(trigger ? "trigger: {plugin: webhook, trigger: webhook, input: {path: \(name)}}" : "")
        steps:
        \(calls.map { "  - {id: sub, workflow: \($0)}" } ?? "")
          - {id: encode, plugin: base64, action: encode, input: {content: \(content)}}
        """
    }

    static func file(_ path: String, _ text: String?) -> WorkflowSourceFile {
        WorkflowSourceFile(path: path, text: text)
    }

    static func workflow(_ path: String, _ text: String) throws -> Workflow {
        try WorkflowDecoder.decode(yaml: text, file: path)
    }

    static func reload(_ previous: [String: Workflow], _ files: [WorkflowSourceFile]) -> WorkflowReload {
        WorkflowReload.apply(previous: previous, files: files, validator: validator)
    }

    // MARK: - The reload of a set of files

    @Test func aValidChangeReplacesItsWorkflow() throws {
        let before = [
            "w/a.yaml": try Self.workflow("w/a.yaml", Self.text("a")),
            "w/b.yaml": try Self.workflow("w/b.yaml", Self.text("b")),
        ]
        let reload = Self.reload(
            before, [Self.file("w/a.yaml", Self.text("a", content: "v2")), Self.file("w/b.yaml", Self.text("b"))])
        #expect(reload.problems.isEmpty)
        #expect(reload.changed.map(\.name) == ["a"])
        #expect(reload.added.isEmpty && reload.removed.isEmpty)
        #expect(reload.active["w/a.yaml"]?.steps.first?.input == ["content": "v2"])
        #expect(reload.active["w/b.yaml"] == before["w/b.yaml"])
        #expect(reload.workflows.map(\.name) == ["a", "b"])
    }

    @Test func nothingChangedChangesNothing() throws {
        let before = ["w/a.yaml": try Self.workflow("w/a.yaml", Self.text("a"))]
        let reload = Self.reload(before, [Self.file("w/a.yaml", Self.text("a"))])
        #expect(!reload.changesAnything)
        #expect(reload.problems.isEmpty)
        #expect(reload.active == before)
    }

    /// A file that does not decode, or does not validate, keeps the version read before; the problem names the file
    /// and, where the decoder knows it, the line.
    @Test(arguments: [
        (
            "  - {id: encode, plugin: base64, action: encode, input: {content: v2}, retry: {attempts: three}}",
            "w/a.yaml:5: steps[0].retry.attempts: expected an integer between 1 and 100"
        ),
        (
            "  - {id: encode, plugin: base64, action: encrypt, input: {content: v2}}",
            "w/a.yaml: steps[0].action: plugin base64 has no action \"encrypt\""
        ),
    ])
    func anInvalidFileKeepsThePreviousVersion(step: String, message: String) throws {
        let previous = try Self.workflow("w/a.yaml", Self.text("a"))
        let broken = Self.text("a").replacingOccurrences(
            of: "  - {id: encode, plugin: base64, action: encode, input: {content: v1}}", with: step)
        let reload = Self.reload(["w/a.yaml": previous], [Self.file("w/a.yaml", broken)])
        #expect(!reload.changesAnything)
        #expect(reload.active["w/a.yaml"] == previous)
        let problem = try #require(reload.problems.first)
        #expect(reload.problems.count == 1)
        #expect(problem.file == "w/a.yaml")
        #expect(problem.active == previous)
        #expect(problem.messages.contains { $0.hasPrefix(message) }, "\(problem.messages)")
    }

    @Test func aFileThatCannotBeReadKeepsThePreviousVersion() throws {
        let previous = try Self.workflow("w/a.yaml", Self.text("a"))
        let reload = Self.reload(["w/a.yaml": previous], [Self.file("w/a.yaml", nil)])
        #expect(reload.active["w/a.yaml"] == previous)
        #expect(reload.problems.map(\.messages) == [["w/a.yaml: the file could not be read"]])
    }

    @Test func aRemovedFileRemovesItsWorkflow() throws {
        let before = [
            "w/a.yaml": try Self.workflow("w/a.yaml", Self.text("a")),
            "w/b.yaml": try Self.workflow("w/b.yaml", Self.text("b")),
        ]
        let reload = Self.reload(before, [Self.file("w/b.yaml", Self.text("b"))])
        #expect(reload.removed.map(\.name) == ["a"])
        #expect(reload.workflows.map(\.name) == ["b"])
        #expect(reload.problems.isEmpty)
    }

    @Test func aNewFileAddsItsWorkflowAndAnInvalidOneAddsNothing() throws {
        let before = ["w/a.yaml": try Self.workflow("w/a.yaml", Self.text("a"))]
        let reload = Self.reload(
            before,
            [
                Self.file("w/a.yaml", Self.text("a")), Self.file("w/b.yaml", Self.text("b")),
                Self.file("w/c.yaml", "name: c\nsteps: 7\n"),
            ])
        #expect(reload.added.map(\.name) == ["b"])
        #expect(reload.workflows.map(\.name) == ["a", "b"])
        let problem = try #require(reload.problems.first)
        #expect(problem.file == "w/c.yaml" && problem.active == nil)
        #expect(problem.messages == ["w/c.yaml:2: steps: expected a list of steps"])
    }

    /// What only the set shows holds for the new set: a change that would break it is not applied and is reported
    /// on its file; the rest of the reload is.
    @Test func aChangeThatBreaksTheSetIsNotApplied() throws {
        let a = try Self.workflow("w/a.yaml", Self.text("a"))
        let b = try Self.workflow("w/b.yaml", Self.text("b", trigger: false))
        let caller = try Self.workflow("w/caller.yaml", Self.text("caller", calls: "b"))
        let before = ["w/a.yaml": a, "w/b.yaml": b, "w/caller.yaml": caller]

        // A step's unknown sub-workflow, beside a valid change that goes through.
        let unknown = Self.reload(
            before,
            [
                Self.file("w/a.yaml", Self.text("a", content: "v2")),
                Self.file("w/b.yaml", Self.text("b", trigger: false)),
                Self.file("w/caller.yaml", Self.text("caller", calls: "nope")),
            ])
        #expect(unknown.changed.map(\.name) == ["a"])
        #expect(unknown.active["w/caller.yaml"] == caller)
        #expect(unknown.problems.map(\.file) == ["w/caller.yaml"])
        #expect(
            unknown.problems.first?.messages.first?.hasPrefix(
                "w/caller.yaml: steps[0].workflow: unknown workflow \"nope\"") == true,
            "\(unknown.problems)")

        // A name another file has: that file keeps it.
        let duplicate = Self.reload(
            before,
            [
                Self.file("w/a.yaml", Self.text("a")), Self.file("w/b.yaml", Self.text("b", trigger: false)),
                Self.file("w/caller.yaml", Self.text("caller", calls: "b")), Self.file("w/0-new.yaml", Self.text("a")),
            ])
        #expect(!duplicate.changesAnything)
        #expect(duplicate.problems.map(\.file) == ["w/0-new.yaml"])
        #expect(
            duplicate.problems.first?.messages == [
                "w/0-new.yaml: name: another workflow is already named \"a\" (w/a.yaml)"
            ])

        // A workflow that would call itself through another.
        let cycle = Self.reload(
            before,
            [
                Self.file("w/a.yaml", Self.text("a")),
                Self.file("w/b.yaml", Self.text("b", calls: "caller", trigger: false)),
                Self.file("w/caller.yaml", Self.text("caller", calls: "b")),
            ])
        #expect(!cycle.changesAnything)
        #expect(cycle.active["w/b.yaml"] == b)
        #expect(cycle.problems.map(\.file) == ["w/b.yaml"])
        #expect(
            cycle.problems.first?.messages.first?.contains("the workflow calls itself") == true, "\(cycle.problems)")

        // A rename that would leave a caller without its sub-workflow.
        let rename = Self.reload(
            before,
            [
                Self.file("w/a.yaml", Self.text("a")), Self.file("w/b.yaml", Self.text("b2", trigger: false)),
                Self.file("w/caller.yaml", Self.text("caller", calls: "b")),
            ])
        #expect(!rename.changesAnything)
        #expect(rename.problems.map(\.file) == ["w/b.yaml"])
        #expect(
            rename.problems.first?.messages.first?.hasPrefix(
                "w/caller.yaml: steps[0].workflow: unknown workflow \"b\"") == true,
            "\(rename.problems)")
    }

    /// A workflow and the new sub-workflow it calls come in together, whatever the order of their files.
    @Test func aWorkflowAndItsNewSubWorkflowComeInTogether() throws {
        let before = ["w/a.yaml": try Self.workflow("w/a.yaml", Self.text("a"))]
        let reload = Self.reload(
            before,
            [
                Self.file("w/a.yaml", Self.text("a", calls: "z-sub")),
                Self.file("w/z.yaml", Self.text("z-sub", trigger: false)),
                Self.file("w/b.yaml", Self.text("b", calls: "nope")),
            ])
        #expect(reload.changed.map(\.name) == ["a"])
        #expect(reload.added.map(\.name) == ["z-sub"])
        #expect(reload.problems.map(\.file) == ["w/b.yaml"])
    }

    /// A removed sub-workflow is removed; its caller stays as it is and is reported, and later changes elsewhere
    /// still apply.
    @Test func aRemovedSubWorkflowIsReportedOnItsCaller() throws {
        let caller = try Self.workflow("w/caller.yaml", Self.text("caller", calls: "b"))
        let before = [
            "w/b.yaml": try Self.workflow("w/b.yaml", Self.text("b", trigger: false)), "w/caller.yaml": caller,
        ]
        let removed = Self.reload(before, [Self.file("w/caller.yaml", Self.text("caller", calls: "b"))])
        #expect(removed.removed.map(\.name) == ["b"])
        #expect(removed.active == ["w/caller.yaml": caller])
        #expect(removed.problems.map(\.file) == ["w/caller.yaml"])
        #expect(removed.problems.first?.active == caller)

        let next = Self.reload(
            removed.active,
            [Self.file("w/caller.yaml", Self.text("caller", calls: "b")), Self.file("w/new.yaml", Self.text("new"))])
        #expect(next.added.map(\.name) == ["new"])
        #expect(next.problems.map(\.file) == ["w/caller.yaml"])
    }

    // MARK: - Trigger instances

    @Test func theTriggerHostStartsAndStopsOnlyWhatChanged() throws {
        let a = try Self.workflow("a.yaml", Self.text("a"))
        let b = try Self.workflow("b.yaml", Self.text("b"))
        let sameAsA = try Self.workflow("a2.yaml", Self.text("a").replacingOccurrences(of: "name: a", with: "name: a2"))
        let running = Set([a, b].compactMap(\.trigger?.instanceID))
        let c = try Self.workflow("c.yaml", Self.text("c"))
        let plan = TriggerInstancePlan(running: running, wanted: TriggerHost.bindings(of: [a, sameAsA, c]))
        #expect(plan.start.map(\.instanceID) == [c.trigger?.instanceID])
        #expect(plan.stop == [b.trigger?.instanceID].compactMap { $0 })
        #expect(TriggerInstancePlan(running: running, wanted: TriggerHost.bindings(of: [a, b])).start.isEmpty)
    }

    // MARK: - relay up

    /// `relay up`'s pipeline over a project directory: a change applies to new runs, an invalid file is reported
    /// and the previous version stays, a new workflow's webhook starts answering and a removed one's stops, while
    /// a run of the removed workflow finishes.
    @Test func anEmbeddedPipelineFollowsItsWorkflowFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-reload-\(UUID().uuidString)")
        let workflows = directory.appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let echo = workflows.appendingPathComponent("echo.yaml")
        func echoText(_ content: String) -> String {
            """
            name: echo
            trigger: {plugin: webhook, trigger: webhook, input: {path: echo}}
            steps:
              - {id: encode, plugin: base64, action: encode, input: {content: "\(content) {{ trigger.json.n }}"}}
            """
        }
        try echoText("v1").write(to: echo, atomically: true, encoding: .utf8)
        let project = try Project.load(directory: directory.path, native: try NativePlugins.all())
        var configuration = EmbeddedPipeline.Configuration()
        configuration.port = 0
        configuration.printRuns = false
        configuration.reloadInterval = .milliseconds(100)
        let logs = LogLines()
        let pipeline = try EmbeddedPipeline(project: project, configuration: configuration, logger: logs.logger)
        let ports = AsyncStream<Int>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run { ports.continuation.yield($0) } }
            defer { group.cancelAll() }
            var iterator = ports.stream.makeAsyncIterator()
            let client = WebhookClient(port: try #require(await iterator.next()), store: pipeline.store)

            // The first version.
            #expect(try await client.encoded(path: "echo") == "v1 1")

            // A change: new runs take it.
            try echoText("v2").write(to: echo, atomically: true, encoding: .utf8)
            #expect(await waitFor { (try? await client.encoded(path: "echo"))?.hasPrefix("v2 ") == true })
            #expect(pipeline.metrics.value(of: PipelineMetrics.Name.workflowReloads) == 1)

            // An invalid version: reported with its file and line, counted once, the previous version stays.
            try """
            name: echo
            trigger: {plugin: webhook, trigger: webhook, input: {path: echo}}
            steps:
              - id: encode
                plugin: base64
                action: encode
                input: {content: "v3 {{ trigger.json.n }}"}
                retry: {attempts: three}
            """.write(to: echo, atomically: true, encoding: .utf8)
            #expect(await waitFor { pipeline.metrics.value(of: PipelineMetrics.Name.workflowReloadErrors) == 1 })
            #expect(
                logs.lines.contains { $0.contains("\(echo.path):8: steps[0].retry.attempts: expected an integer") },
                "\(logs.lines)")
            #expect(try await client.encoded(path: "echo")?.hasPrefix("v2 ") == true)

            // A new workflow: its path starts answering.
            let slow = workflows.appendingPathComponent("slow.yaml")
            #expect(try await client.post(path: "slow") == 404)
            try """
            name: slow
            trigger: {plugin: webhook, trigger: webhook, input: {path: slow}}
            steps:
              - {id: wait, plugin: sleep, action: sleep, input: {interval: 5}}
              - {id: encode, plugin: base64, action: encode, input: {content: "slow {{ trigger.json.n }}"}}
            """.write(to: slow, atomically: true, encoding: .utf8)
            #expect(await waitFor { (try? await client.post(path: "slow")) == 202 })
            // The invalid file, read again with the new one, is not reported again.
            #expect(pipeline.metrics.value(of: PipelineMetrics.Name.workflowReloadErrors) == 1)

            // Removed while a run of it sleeps: its path stops answering, the run finishes as it started.
            let running = try #require(await client.runs(of: "slow").first)
            try FileManager.default.removeItem(at: slow)
            #expect(await waitFor { (try? await client.post(path: "slow")) == 404 })
            let removedAt = Date().timeIntervalSince1970
            #expect(
                await waitFor {
                    (try? await pipeline.store.run(id: running.id))?.summary.status == .succeeded
                })
            let detail = try #require(try await pipeline.store.run(id: running.id))
            let waited = try #require(detail.steps.first { $0.stepID == "wait" }?.finishedAt)
            #expect(waited > removedAt, "the run's second step started after its workflow was removed")
            #expect(detail.steps.contains { $0.stepID == "encode" && $0.status == .succeeded })

            // The first workflow goes on.
            #expect(try await client.encoded(path: "echo")?.hasPrefix("v2 ") == true)
            #expect(pipeline.metrics.value(of: PipelineMetrics.Name.workflowReloads) == 3)
            #expect(logs.lines.contains { $0.contains("workflows reloaded: removed slow") }, "\(logs.lines)")
        }
    }
}

/// Posts webhooks to a running pipeline and reads the runs they start.
struct WebhookClient {
    let port: Int
    let store: SQLRunStore
    private let counter = Counter()

    /// The status of a POST of `{"n": N}` to the webhook `path`.
    @discardableResult
    func post(path: String, n: Int? = nil) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/webhooks/\(path)")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"n": \#(n ?? counter.next())}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    /// Posts a new event to `path` and waits for its run: the text its `encode` step encoded (nil when the post was
    /// never accepted).
    func encoded(path: String) async throws -> String? {
        let n = counter.next()
        // Until it is accepted: the HTTP server may listen before the trigger host has registered the path.
        guard await waitFor({ (try? await post(path: path, n: n)) == 202 }) else { return nil }
        var found: String?
        _ = await waitFor {
            for summary in (try? await store.runs(limit: 1000)) ?? [] where summary.status == .succeeded {
                guard let run = try? await store.run(id: summary.id), run.triggerEvent["json"]?["n"] == .int(n)
                else { continue }
                let data = run.steps.first { $0.stepID == "encode" }?.output?["data"]?.stringValue
                found = data.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
                return true
            }
            return false
        }
        return found
    }

    /// The runs of `workflow`, once there is one.
    func runs(of workflow: String) async -> [RunSummary] {
        var runs: [RunSummary] = []
        _ = await waitFor {
            runs = ((try? await store.runs(limit: 1000)) ?? []).filter { $0.workflow == workflow }
            return !runs.isEmpty
        }
        return runs
    }

    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int {
            value.withLock {
                $0 += 1
                return $0
            }
        }
    }
}

/// The lines a logger writes, kept for the test to search.
final class LogLines: Sendable {
    private let stored = Mutex<[String]>([])

    var lines: [String] { stored.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "relay.test") { _ in Handler(lines: self) }
        logger.logLevel = .info
        return logger
    }

    struct Handler: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            lines.stored.withLock { $0.append("\(event.level): \(event.message)") }
        }
    }
}
