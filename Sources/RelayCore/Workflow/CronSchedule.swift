import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), evaluated in UTC.
/// Fields take `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`, and month and day names
/// (`jan`, `mon`). Day-of-week 0 and 7 are Sunday. As in Vixie cron, when both day fields are restricted a
/// time matches if either does. `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` are accepted.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public var description: String { expression }

    public init(_ expression: String) throws(RelayError) {
        let aliases = [
            "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
            "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
        ]
        let trimmed = expression.trimmingCharacters(in: .whitespaces)
        let text = aliases[trimmed.lowercased()] ?? trimmed
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else {
            throw RelayError(
                .invalidValue,
                "cron expression \"\(expression)\": expected 5 fields (minute hour day month weekday), "
                    + "found \(fields.count)"
            )
        }
        self.expression = expression
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        minutes = try CronSchedule.parse(
            fields[0], name: "minute", range: 0...59, names: [], offset: 0, expression: expression)
        hours = try CronSchedule.parse(
            fields[1], name: "hour", range: 0...23, names: [], offset: 0, expression: expression)
        daysOfMonth = try CronSchedule.parse(
            fields[2], name: "day of month", range: 1...31, names: [], offset: 0, expression: expression)
        months = try CronSchedule.parse(
            fields[3], name: "month", range: 1...12, names: monthNames, offset: 1, expression: expression)
        var weekdays = try CronSchedule.parse(
            fields[4], name: "day of week", range: 0...7, names: dayNames, offset: 0, expression: expression)
        if weekdays.contains(7) {
            weekdays.remove(7)
            weekdays.insert(0)
        }
        daysOfWeek = weekdays
        dayOfMonthRestricted = fields[2] != "*" && !fields[2].hasPrefix("*/")
        dayOfWeekRestricted = fields[4] != "*" && !fields[4].hasPrefix("*/")
    }

    /// The first matching minute strictly after `date`.
    public func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var components = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        components.second = 0
        guard var candidate = calendar.date(from: components) else { return nil }
        candidate = candidate.addingTimeInterval(60)
        // Walk forward; skip whole days, then hours, that cannot match. Bounded to ~5 years.
        let limit = date.addingTimeInterval(5 * 366 * 86400)
        while candidate < limit {
            let c = calendar.dateComponents([.month, .day, .hour, .minute, .weekday], from: candidate)
            let weekday = c.weekday! - 1
            if !months.contains(c.month!) || !dayMatches(day: c.day!, weekday: weekday) {
                candidate = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: candidate))!
                continue
            }
            if !hours.contains(c.hour!) {
                let hourStart = calendar.date(
                    from: calendar.dateComponents([.year, .month, .day, .hour], from: candidate))!
                candidate = hourStart.addingTimeInterval(3600)
                continue
            }
            if minutes.contains(c.minute!) { return candidate }
            candidate = candidate.addingTimeInterval(60)
        }
        return nil
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        default: return daysOfMonth.contains(day) && daysOfWeek.contains(weekday)
        }
    }

    private static func parse(
        _ field: String, name: String, range: ClosedRange<Int>, names: [String], offset: Int, expression: String
    ) throws(RelayError) -> Set<Int> {
        func fail(_ why: String) -> RelayError {
            RelayError(.invalidValue, "cron expression \"\(expression)\": \(name) field \"\(field)\": \(why)")
        }
        func value(_ text: String) throws(RelayError) -> Int {
            if let index = names.firstIndex(of: text.lowercased()) { return index + offset }
            guard let number = Int(text) else {
                throw fail("\"\(text)\" is not a number\(names.isEmpty ? "" : " or a name")")
            }
            guard range.contains(number) else {
                throw fail("\(number) is outside \(range.lowerBound)-\(range.upperBound)")
            }
            return number
        }
        var result = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw fail("empty list item") }
            var base = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                base = String(part[..<slash])
                guard let parsed = Int(part[part.index(after: slash)...]), parsed > 0 else {
                    throw fail("the step must be a positive number")
                }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if base == "*" {
                bounds = range
            } else if let dash = base.firstIndex(of: "-") {
                let low = try value(String(base[..<dash]))
                let high = try value(String(base[base.index(after: dash)...]))
                guard low <= high else { throw fail("range \(low)-\(high) runs backwards") }
                bounds = low...high
            } else {
                let single = try value(base)
                bounds = single...(part.contains("/") ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }
}
