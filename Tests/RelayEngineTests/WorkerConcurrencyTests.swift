import Foundation
import RelayCore
import RelaySDK
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// `--concurrency` is the worker's, not each plugin's: with two plugins and a limit of 1, their jobs never run at
/// once.
@Suite struct WorkerConcurrencyTests {
    /// Jobs that record how many of them run at once. A job holds until another job runs beside it (the overlap is
    /// then recorded) or the test lets it go.
    enum Overlap {
        struct State {
            var running = 0
            var mostAtOnce = 0
            var started = 0
            var finished = 0
            var released = false
        }

        static let state = Mutex(State())

        static func spec(_ name: String) -> String {
            """
            name: \(name)
            title: Hold
            description: Holds a job
            version: 1.0.0
            vendor: rapid7
            actions:
              hold:
                input: {}
                output:
                  done: {type: boolean, required: true}
            """
        }

        struct Hold: PluginAction {
            static let name = "hold"
            struct Input: Decodable, Sendable {}
            struct Output: Encodable, Sendable { var done: Bool }
            func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
                Overlap.state.withLock {
                    $0.running += 1
                    $0.started += 1
                    $0.mostAtOnce = max($0.mostAtOnce, $0.running)
                }
                _ = await waitFor { Overlap.state.withLock { $0.released || $0.running > 1 } }
                Overlap.state.withLock {
                    $0.running -= 1
                    $0.finished += 1
                }
                return Output(done: true)
            }
        }
    }

    @Test func twoPluginsWithConcurrencyOneNeverRunTwoJobsAtOnce() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-slots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let bus = try EmbeddedBus(database: database, pollInterval: .milliseconds(20))
        var plugins: [String: Plugin] = [:]
        for name in ["left", "right"] {
            plugins[name] = try Plugin(
                specYAML: Overlap.spec(name), connection: NoConnection.self,
                actions: [.init(Overlap.Hold())])
        }
        let worker = Worker(
            bus: bus, catalog: PluginCatalog(native: plugins), connections: ConnectionStore(),
            plugins: ["left", "right"], concurrency: 1)
        let running = Task { try await worker.run() }
        for plugin in ["left", "right"] {
            let route = JobRoute(
                jobID: "run/\(plugin)/1", runID: "run", stepID: plugin, attempt: 1, workflow: "slots",
                timeoutMilliseconds: 60_000)
            let job = StepStart(step: .action("hold"), input: [:], meta: route.meta)
            try await bus.publish([BusMessage(topic: Topics.jobs(plugin), key: "run", json: job.message.json)])
        }
        // One job runs and the other waits for the worker's one slot; without a shared limit, the second starts
        // beside the first instead (and both end at once, the overlap recorded).
        let settled = await waitFor {
            let waiting = worker.slots.waiting
            let started = Overlap.state.withLock { $0.started }
            return started == 2 || (started == 1 && waiting == 1)
        }
        #expect(settled)
        Overlap.state.withLock { $0.released = true }
        #expect(await waitFor { Overlap.state.withLock { $0.finished } == 2 })
        #expect(Overlap.state.withLock { $0.mostAtOnce } == 1)
        running.cancel()
        _ = await running.result
    }
}
