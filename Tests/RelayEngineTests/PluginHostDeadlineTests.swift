import Foundation
import RelayCore
import RelayTestSupport
import Synchronization
import Testing

@testable import RelaySDK

/// A native plugin's step is stopped at its deadline by one shared watch (`DeadlineWatch`), not a timer task per
/// step: what ends in time leaves nothing watched, what does not is cancelled and reported as a timeout, and a
/// shorter deadline watched after a longer one still fires on time.
@Suite struct PluginHostDeadlineTests {
    /// The pipeline tests' plugin: its `hang` action sleeps for `seconds`.
    static func host(_ deadlines: DeadlineWatch = DeadlineWatch()) throws -> PluginHost {
        PluginHost(plugin: try PipelineTestPlugin.plugin(), deadlines: deadlines)
    }

    static func hang(_ seconds: Int) -> StepStart {
        StepStart(step: .action("hang"), input: ["seconds": .int(seconds)], connection: [:], meta: [:])
    }

    @Test func stepsThatEndInTimeLeaveNothingWatched() async throws {
        let deadlines = DeadlineWatch()
        let host = try Self.host(deadlines)
        let events = await withTaskGroup(of: StepEvent.self) { group in
            for _ in 0..<200 { group.addTask { await host.run(Self.hang(0), deadline: .now + .seconds(60)) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(events.allSatisfy { $0.status == .ok && $0.output == ["done": true] })
        #expect(deadlines.count == 0)
    }

    @Test func aStepPastItsDeadlineIsCancelledAndReportedAsATimeout() async throws {
        let host = try Self.host()
        let clock = ContinuousClock()
        let started = clock.now
        // The bound only tells a cancelled step from one run to its end (900 s); it is not a measure of speed: at
        // the start of the unit phase every test runs at once and a trivial one can take 25 s (a 30 s bound here
        // once failed at 31 s).
        let event = await host.run(Self.hang(900), deadline: .now + .milliseconds(200))
        #expect(event.status == .error)
        #expect(event.errorKind == .timeout)
        #expect(clock.now - started < .seconds(300))
    }

    /// A step run in its caller's task (`StepTaskHandle`, how the worker runs in-process plugins): the deadline
    /// cancels that task and the step is reported as a timeout; a step that ends in time leaves its task as it was,
    /// and nothing watched.
    @Test(.timeLimit(.minutes(5))) func aStepInItsCallersTaskIsStoppedByCancellingThatTask() async throws {
        let deadlines = DeadlineWatch()
        let host = try Self.host(deadlines)
        let clock = ContinuousClock()
        let started = clock.now
        // (The step that ends in time has a deadline far beyond it: a 200 ms one failed once when the whole unit
        // phase starved the test process for longer than that.)
        for (seconds, late, timeout) in [(900, true, Duration.milliseconds(200)), (0, false, .seconds(120))] {
            let handle = StepTaskHandle()
            let outcome = Mutex<(StepEvent, cancelled: Bool)?>(nil)
            let task = Task {
                let event = await host.run(Self.hang(seconds), deadline: .now + timeout, runningIn: handle)
                outcome.withLock { $0 = (event, Task.isCancelled) }
            }
            handle.attach(task)
            await task.value
            let (event, cancelled) = try #require(outcome.withLock { $0 })
            #expect(cancelled == late)
            if late {
                #expect(event.status == .error)
                #expect(event.errorKind == .timeout)
            } else {
                #expect(event.status == .ok && event.output == ["done": true])
            }
        }
        #expect(deadlines.count == 0)
        // (As in the test above: only a cancelled step ends before its 900 s.)
        #expect(clock.now - started < .seconds(300))
    }

    /// A cancel that comes before the task is attached is done when it is; one after `finish` is not done at all.
    @Test func aStepTaskHandleCancelsOnlyBetweenItsStepsStartAndEnd() async throws {
        let early = StepTaskHandle()
        early.cancel()
        let gate = AsyncGate()
        let first = Task { await gate.wait() }
        early.attach(first)
        #expect(first.isCancelled)
        gate.open()
        await first.value

        // (Its task still waiting, so that it is its handle, not its end, that keeps it from being cancelled.)
        let closed = AsyncGate()
        let finished = StepTaskHandle()
        let second = Task { await closed.wait() }
        finished.attach(second)
        finished.finish()
        finished.cancel()
        #expect(!second.isCancelled)
        closed.open()
        await second.value
    }

    @Test func aShorterDeadlineWatchedAfterALongerOneFiresOnTime() async throws {
        let watch = DeadlineWatch()
        let now = ContinuousClock.now
        // The timer sleeps until the long deadline first; the short one must bring it forward.
        let long = watch.watch(until: now + .seconds(3_600)) {}
        let short = watch.watch(until: now + .milliseconds(100)) {}
        #expect(await waitFor(seconds: 300) { short.hasFired })
        #expect(!long.hasFired)
        // And after it fired, the timer sleeps until the long one again: a third, shorter one still fires.
        let third = watch.watch(until: ContinuousClock.now + .milliseconds(100)) {}
        #expect(await waitFor(seconds: 300) { third.hasFired })
        watch.unwatch(long)
        #expect(watch.count == 0)
    }

    @Test func theWatchCancelsOnlyWhatIsDue() async throws {
        let watch = DeadlineWatch()
        let cancelled = Mutex<[Int]>([])
        let now = ContinuousClock.now
        let early = watch.watch(until: now + .milliseconds(100)) { cancelled.withLock { $0.append(1) } }
        let late = watch.watch(until: now + .seconds(3_600)) { cancelled.withLock { $0.append(2) } }
        let ended = watch.watch(until: now + .milliseconds(50)) { cancelled.withLock { $0.append(3) } }
        watch.unwatch(ended)
        #expect(await waitFor { early.hasFired })
        #expect(cancelled.withLock { $0 } == [1])
        #expect(!late.hasFired)
        #expect(watch.count == 1)
        watch.unwatch(late)
        #expect(watch.count == 0)
    }
}

/// Opens once; tasks wait for it (not for a time).
private final class AsyncGate: Sendable {
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resume = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiting.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
