import Foundation
import RelayCore
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayEngine

/// The worker's group commit does not pace its plugins: while a commit is under way, the worker goes on taking and
/// running jobs, up to 1,024 taken and not yet committed (with 256 it stopped there until the commit ended, and a core
/// sat idle: docs/benchmarks.md, issue #17's fourteenth round); once the commit ends, every result is committed.
@Suite struct WorkerGroupCommitTests {
    /// Holds the first commit until opened.
    actor Gate {
        private var isOpen = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func pass() async {
            if isOpen { return }
            await withCheckedContinuation { waiting.append($0) }
        }

        func open() {
            isOpen = true
            for caller in waiting { caller.resume() }
            waiting = []
        }
    }

    /// A fresh embedded bus in a temporary directory (removed afterwards).
    func withBus(_ body: (EmbeddedBus) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-gc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(
            try EmbeddedBus(
                database: try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path),
                pollInterval: .milliseconds(20)))
    }

    /// A worker of the test plugin `ptest` (8 jobs at once) on `bus`, its results committed by `results`.
    func worker(_ bus: EmbeddedBus, metrics: PipelineMetrics = PipelineMetrics(), results: MessageSink) throws -> Worker
    {
        Worker(
            bus: bus, catalog: PluginCatalog(native: ["ptest": try PipelineTestPlugin.plugin()]),
            connections: ConnectionStore(), plugins: ["ptest"], concurrency: 8, metrics: metrics, results: results)
    }

    /// 1,100 jobs of the test plugin's `echo`: more than the 1,024 a worker keeps uncommitted.
    static let jobs = (0..<1_100).map { index in
        SinkMessageTests.job(
            "echo", input: ["text": .string("job \(index)")],
            route: JobRoute(
                jobID: "run/a/\(index + 1)", runID: "run", stepID: "a", attempt: index + 1, workflow: "gc",
                timeoutMilliseconds: 60_000))
    }

    @Test func theWorkerRunsUpTo1024JobsWhileACommitIsUnderWay() async throws {
        try await withBus { bus in
            let metrics = PipelineMetrics()
            let gate = Gate()
            let first = Mutex(true)
            let committed = Mutex(0)
            let worker = try worker(
                bus, metrics: metrics,
                results: MessageSink { messages, inputs in
                    if first.withLock({ isFirst in
                        defer { isFirst = false }
                        return isFirst
                    }) {
                        await gate.pass()
                    }
                    try await bus.publish([], acknowledging: inputs)
                    committed.withLock { $0 += messages.count }
                })
            let running = Task { try await worker.run() }
            try await bus.publish(Self.jobs)
            func finished() -> Int { Int(metrics.value(of: PipelineMetrics.Name.jobs)) }
            // The first result's commit waits at the gate: the worker runs jobs until 1,024 are taken and uncommitted.
            #expect(await waitFor { finished() == 1_024 }, "jobs run while the first commit waits: \(finished())")
            #expect(committed.withLock { $0 } == 0)
            await gate.open()
            #expect(await waitFor { committed.withLock { $0 } == 1_100 }, "committed: \(committed.withLock { $0 })")
            #expect(finished() == 1_100)
            running.cancel()
            _ = await running.result
        }
    }

    /// A job hands its result to the group commit and ends without waiting for it; the commit tells each job of the
    /// batch how it went. A commit that fails stops the worker's intake at once, and the worker stops with the
    /// commit's error once its jobs in flight have finished (as the dispatcher stops at a failed transaction), instead
    /// of going on running jobs whose results it dropped (every job of the burst ran before, though every commit
    /// failed). Nothing it did not commit is lost: a worker started again on the bus gets every job again.
    @Test func aFailedCommitStopsTheWorkerWithItsErrorAndItsJobsComeAgain() async throws {
        try await withBus { bus in
            let attempted = Mutex(0)
            let failing = try worker(
                bus,
                results: MessageSink { messages, _ in
                    attempted.withLock { $0 += messages.count }
                    throw RelayError(.io, "the results' store is gone")
                })
            let stopped = Mutex<Result<Void, any Error>?>(nil)
            let running = Task {
                do {
                    try await failing.run()
                    stopped.withLock { $0 = .success(()) }
                } catch {
                    stopped.withLock { $0 = .failure(error) }
                }
            }
            try await bus.publish(Self.jobs)
            #expect(await waitFor { stopped.withLock { $0 } != nil }, "the worker stops by itself")
            running.cancel()
            await running.value
            switch stopped.withLock({ $0 }) {
            case .failure(let error): #expect("\(error)".contains("the results' store is gone"), "\(error)")
            case .success: Issue.record("the worker stopped without the commit's error")
            case nil: Issue.record("the worker did not stop")
            }
            let offered = attempted.withLock { $0 }
            #expect(offered >= 1 && offered < 100, "results offered to a commit before intake stopped: \(offered)")

            let committed = Mutex(0)
            let again = try worker(
                bus,
                results: MessageSink { messages, inputs in
                    try await bus.publish([], acknowledging: inputs)
                    committed.withLock { $0 += messages.count }
                })
            let second = Task { try await again.run() }
            #expect(
                await waitFor { committed.withLock { $0 } == Self.jobs.count },
                "committed at the next start: \(committed.withLock { $0 })")
            second.cancel()
            _ = await second.result
        }
    }

    /// Records how each job's commit went, in order.
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
    }

    struct Outcome: ResultCommitter.Finished {
        let name: String
        let log: Log

        func committed(_ failure: (any Error)?) {
            log.entries.withLock { $0.append(failure == nil ? name : "\(name) failed") }
        }
    }

    /// The group commit itself: the first result's caller commits (`submit` true) and the results submitted while
    /// its commit is under way wait for the next batch, together (`submit` false: their callers are done); each
    /// job is told once its batch committed; once nothing is pending, the next result's caller commits again.
    @Test func resultsSubmittedDuringACommitAreCommittedTogetherInTheNext() async throws {
        let gate = Gate()
        let batches = Mutex<[[String]]>([])
        let log = Log()
        let holding = Mutex(false)
        let committer = ResultCommitter(
            sink: MessageSink { messages, _ in
                let keys = messages.map(\.busMessage.key)
                if keys == ["a"] {
                    holding.withLock { $0 = true }
                    await gate.pass()
                }
                batches.withLock { $0.append(keys) }
            })
        func submit(_ key: String) -> Bool {
            let message = BusMessage(topic: "t", key: key, value: [])
            return committer.submit(
                .message(message), acknowledging: Delivery(message: message, offset: 0, group: "g"),
                finished: Outcome(name: key, log: log))
        }
        #expect(submit("a"))
        let first = Task { await committer.drain() }
        // (The first batch, `a` alone, is under way and held.)
        #expect(await waitFor { holding.withLock { $0 } })
        #expect(!submit("b"))
        #expect(!submit("c"))
        #expect(log.entries.withLock { $0 }.isEmpty)
        await gate.open()
        await first.value
        #expect(batches.withLock { $0 } == [["a"], ["b", "c"]])
        #expect(log.entries.withLock { $0 } == ["a", "b", "c"])
        #expect(submit("d"), "nothing pending and no commit under way: its caller commits")
        await committer.drain()
        #expect(batches.withLock { $0.last } == ["d"])
        #expect(log.entries.withLock { $0.last } == "d")
    }
}
