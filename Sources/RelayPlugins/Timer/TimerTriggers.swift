import Foundation
import RelayCore
import RelaySDK

/// What the timer triggers send.
struct TimerEvent: Codable, Sendable {
    var time: String
    var count: Int
}

/// Kept across restarts and failovers (in the trigger state store the hosts share): how many events were sent, and
/// the last tick fired, in seconds since 1970 (absent in state saved before ticks were kept).
struct TimerState: Codable, Sendable {
    var count: Int
    var lastTick: Double?
}

/// The ticks of a timer are times its schedule names (an interval's multiples of its period since 1970, a cron
/// expression's minutes), not times a host happened to start: every host that runs the instance computes the same
/// ones. Each event is sent with its tick as its position (`instance@2026-12-04T19:00:00Z` is its id), so a tick sent
/// again, by the next owner after a failover or after a crash before the state was saved, starts no second run. The
/// last tick fired is kept in the state: the next run goes on with the tick after it, firing late those missed while
/// no host ran the instance, but none older than `catchUpWindow` (a timer stopped for a day does not fire a day's
/// ticks at once).
enum TimerTicks {
    static let catchUpWindow: Double = 60

    /// The first tick of an interval of `period` seconds to fire, `now` being the time: the one after `lastTick`,
    /// or, with none, the next tick (the current one with `fireImmediately`); never one older than the catch-up
    /// window.
    static func firstIntervalTick(period: Double, lastTick: Double?, fireImmediately: Bool, now: Double) -> Double {
        let current = (now / period).rounded(.down) * period
        guard let lastTick else { return fireImmediately ? current : current + period }
        return skippingStale(lastTick + period, period: period, now: now)
    }

    /// `tick`, or when it is older than the catch-up window, the oldest tick of the period within it.
    static func skippingStale(_ tick: Double, period: Double, now: Double) -> Double {
        guard tick < now - catchUpWindow else { return tick }
        return ((now - catchUpWindow) / period).rounded(.up) * period
    }

    /// Sleeps until the wall clock reaches `time` (seconds since 1970).
    static func sleep(until time: Double) async throws {
        while true {
            let wait = time - Date().timeIntervalSince1970
            if wait <= 0 { return }
            try await Task.sleep(for: .milliseconds(Int((wait * 1000).rounded(.up)) + 1))
        }
    }
}

/// `timer/interval`: an event every `seconds` seconds, at the multiples of `seconds` since 1970 (`TimerTicks`).
struct IntervalTrigger: PluginTrigger {
    typealias Connection = NoConnection
    static let name = "interval"

    struct Input: Decodable, Sendable {
        var seconds: Int
        var fireImmediately: Bool?

        enum CodingKeys: String, CodingKey {
            case seconds
            case fireImmediately = "fire_immediately"
        }
    }

    /// From 1 second to a year: 0 or less would fire in a loop; more than a year gives a deadline past what a sleep
    /// can hold (it traps).
    static func problems(in input: Input) -> [InputProblem] {
        guard (1...WorkflowLimits.longestTimerSeconds).contains(input.seconds) else {
            return [
                InputProblem(
                    key: "seconds",
                    message: "expected a number of seconds between 1 and "
                        + "\(WorkflowLimits.longestTimerSeconds) (a year), found \(input.seconds)")
            ]
        }
        return []
    }

    func run(_ input: Input, context: TriggerContext<NoConnection, TimerEvent>) async throws {
        if let problem = Self.problems(in: input).first {
            throw PluginError(
                cause: "The interval is out of range: \(problem.message).",
                assistance: "Set seconds to a value from 1 to \(WorkflowLimits.longestTimerSeconds).")
        }
        let period = Double(input.seconds)
        let saved = try await context.state.load(TimerState.self)
        var count = saved?.count ?? 0
        var tick = TimerTicks.firstIntervalTick(
            period: period, lastTick: saved?.lastTick, fireImmediately: input.fireImmediately == true,
            now: Date().timeIntervalSince1970)
        while !Task.isCancelled {
            try await TimerTicks.sleep(until: tick)
            count += 1
            let time = TimerClock.string(Date(timeIntervalSince1970: tick))
            try await context.send(TimerEvent(time: time, count: count), position: time)
            try await context.state.save(TimerState(count: count, lastTick: tick))
            tick = TimerTicks.skippingStale(tick + period, period: period, now: Date().timeIntervalSince1970)
        }
    }
}

/// `timer/cron`: an event at each time a cron expression names (UTC), each tick once (`TimerTicks`).
struct CronTrigger: PluginTrigger {
    typealias Connection = NoConnection
    static let name = "cron"

    struct Input: Decodable, Sendable {
        var expression: String
    }

    func run(_ input: Input, context: TriggerContext<NoConnection, TimerEvent>) async throws {
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(input.expression)
        } catch {
            throw PluginError(
                cause: error.message + ".",
                assistance: "Write five fields: minute hour day-of-month month day-of-week, e.g. */5 * * * *.")
        }
        let saved = try await context.state.load(TimerState.self)
        var count = saved?.count ?? 0
        var lastTick = saved?.lastTick.map(Date.init(timeIntervalSince1970:))
        while !Task.isCancelled {
            // After the last tick fired, but none older than the catch-up window; with none, the next from now.
            let earliest = Date(timeIntervalSinceNow: -TimerTicks.catchUpWindow)
            let after = lastTick.map { max($0, earliest) } ?? Date()
            guard let fire = schedule.next(after: after) else {
                throw PluginError(
                    cause: "The cron expression \(input.expression) never fires.",
                    assistance: "Check the day and month fields.")
            }
            try await TimerTicks.sleep(until: fire.timeIntervalSince1970)
            count += 1
            let time = TimerClock.string(fire)
            try await context.send(TimerEvent(time: time, count: count), position: time)
            try await context.state.save(TimerState(count: count, lastTick: fire.timeIntervalSince1970))
            lastTick = fire
        }
    }
}

enum TimerClock {
    static func now() -> String { string(Date()) }
    static func string(_ date: Date) -> String {
        ISO8601DateFormatter.string(
            from: date, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime])
    }
}
