import Foundation
import RelayCore
import RelaySDK
import RelayTestSupport
import Testing

@testable import RelayPlugins

/// A timer's ticks come from its schedule, not from when a host started it, and go on from the last tick fired.
@Suite struct TimerTickTests {
    @Test func anIntervalTicksAtMultiplesOfItsPeriod() {
        let now = 1_000_007.5
        #expect(TimerTicks.firstIntervalTick(period: 10, lastTick: nil, fireImmediately: false, now: now) == 1_000_010)
        #expect(TimerTicks.firstIntervalTick(period: 10, lastTick: nil, fireImmediately: true, now: now) == 1_000_000)
    }

    @Test func theNextRunGoesOnFromTheTickAfterTheLastFired() {
        let now = 1_000_007.5
        // The last owner fired 999_990 and died: 1_000_000 is due now (late), then 1_000_010.
        #expect(
            TimerTicks.firstIntervalTick(period: 10, lastTick: 999_990, fireImmediately: false, now: now) == 1_000_000)
        // Ticks older than the catch-up window are not fired: the oldest tick within it is.
        #expect(TimerTicks.firstIntervalTick(period: 10, lastTick: 900_000, fireImmediately: true, now: now) == 999_950)
        // A long period: the missed tick is skipped, the next one waits for its time.
        #expect(
            TimerTicks.firstIntervalTick(period: 3600, lastTick: 990_000, fireImmediately: false, now: now) == 1_000_800
        )
    }

    @Test func eachEventNamesItsTickAsItsPosition() async throws {
        let host = PluginHost(plugin: try NativePlugins.timer())
        let state = TriggerState.inMemory()
        let positions = Collected<String?>()
        let sink = EventSink()
        let start = StepStart(step: .trigger("interval"), input: ["seconds": 1, "fire_immediately": true])
        let first = Task {
            await host.runTrigger(start, state: state) {
                await sink.add($0)
                await positions.append(TriggerEventPosition.current)
            }
        }
        #expect(await waitFor { await sink.count() >= 2 })
        first.cancel()
        _ = await first.value
        let events = await sink.events
        let named = await positions.items
        #expect(named[0] != nil && named[0] == events[0]["time"]?.stringValue)
        #expect(named[1] != nil && named[1] == events[1]["time"]?.stringValue)
        let saved = try #require(try await state.load(TimerState.self))
        let last = try #require(saved.lastTick)
        #expect(TimerClock.string(Date(timeIntervalSince1970: last)) == named[saved.count - 1])
        // The next run fires the tick after the last one saved, whatever the time it starts.
        let second = Task {
            await host.runTrigger(start, state: state) { _ in
                await positions.append(TriggerEventPosition.current)
            }
        }
        #expect(await waitFor { await positions.items.count > named.count })
        second.cancel()
        _ = await second.value
        let next = await positions.items[named.count]
        #expect(next == TimerClock.string(Date(timeIntervalSince1970: last + 1)))
    }
}
