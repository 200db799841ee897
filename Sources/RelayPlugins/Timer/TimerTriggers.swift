import Foundation
import RelayCore
import RelaySDK

/// What the timer triggers send.
struct TimerEvent: Codable, Sendable {
    var time: String
    var count: Int
}

/// Kept across restarts: how many events were sent.
struct TimerState: Codable, Sendable {
    var count: Int
}

/// `timer/interval`: an event every `seconds` seconds.
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
        var count = try await context.state.load(TimerState.self)?.count ?? 0
        if input.fireImmediately != true { try await Task.sleep(for: .seconds(input.seconds)) }
        let clock = ContinuousClock()
        var next = clock.now
        while !Task.isCancelled {
            count += 1
            try await context.send(TimerEvent(time: TimerClock.now(), count: count))
            try await context.state.save(TimerState(count: count))
            next = next.advanced(by: .seconds(input.seconds))
            if next < clock.now { next = clock.now } // fell behind: no burst of catch-up events
            try await Task.sleep(until: next, clock: clock)
        }
    }
}

/// `timer/cron`: an event at each time a cron expression names (UTC).
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
        var count = try await context.state.load(TimerState.self)?.count ?? 0
        while !Task.isCancelled {
            guard let fire = schedule.next(after: Date()) else {
                throw PluginError(
                    cause: "The cron expression \(input.expression) never fires.",
                    assistance: "Check the day and month fields.")
            }
            let wait = fire.timeIntervalSinceNow
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000) + 1)) }
            count += 1
            try await context.send(TimerEvent(time: TimerClock.string(fire), count: count))
            try await context.state.save(TimerState(count: count))
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
