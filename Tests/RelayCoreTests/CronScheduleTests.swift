import Foundation
import RelayCore
import Testing

@Suite struct CronScheduleTests {
    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    func next(_ expression: String, after: String) throws -> String? {
        try CronSchedule(expression).next(after: date(after)).map { ISO8601DateFormatter().string(from: $0) }
    }

    @Test func findsTheNextMatchingMinute() throws {
        #expect(try next("*/5 * * * *", after: "2026-11-29T12:03:10Z") == "2026-11-29T12:05:00Z")
        #expect(try next("0 * * * *", after: "2026-11-29T12:00:00Z") == "2026-11-29T13:00:00Z")
        #expect(try next("30 2 * * *", after: "2026-11-29T12:00:00Z") == "2026-11-30T02:30:00Z")
        // Saturday → Monday.
        #expect(try next("0 9 * * mon-fri", after: "2026-11-28T10:00:00Z") == "2026-11-30T09:00:00Z")
        #expect(try next("0 0 1 jan *", after: "2026-11-29T00:00:00Z") == "2027-01-01T00:00:00Z")
        #expect(try next("@daily", after: "2026-11-29T23:59:00Z") == "2026-11-30T00:00:00Z")
        #expect(try next("0 0 29 2 *", after: "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z")
        // Both day fields restricted: either matches (the 1st, or a Sunday).
        #expect(try next("0 0 1 * 0", after: "2026-11-29T01:00:00Z") == "2026-12-01T00:00:00Z")
    }

    @Test(arguments: [
        ("* * * *", #"cron expression "* * * *": expected 5 fields (minute hour day month weekday), found 4"#),
        ("61 * * * *", #"cron expression "61 * * * *": minute field "61": 61 is outside 0-59"#),
        ("* * * foo *", #"cron expression "* * * foo *": month field "foo": "foo" is not a number or a name"#),
        ("*/0 * * * *", #"cron expression "*/0 * * * *": minute field "*/0": the step must be a positive number"#),
        ("5-1 * * * *", #"cron expression "5-1 * * * *": minute field "5-1": range 5-1 runs backwards"#),
    ])
    func rejectsBadExpressionsClearly(expression: String, message: String) {
        #expect(throws: RelayError.self) { try CronSchedule(expression) }
        do { _ = try CronSchedule(expression) } catch { #expect(error.message == message) }
    }
}
