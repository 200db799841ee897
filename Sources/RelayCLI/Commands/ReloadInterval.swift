import Foundation
import RelayCore

/// `--reload-interval DURATION` of `relay up`, `relay dispatcher` and `relay triggers`, checked: `1s`, `500ms`,
/// `2m`, or a number of seconds; `0` turns hot reload off. Checked as `DeadlineGrace` checks its seconds: a finite
/// number within 30 days before it becomes a `Duration`.
enum ReloadInterval {
    static func duration(_ text: String) throws -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var seconds: Double?
        if let unit = units.first(where: { trimmed.hasSuffix($0.suffix) }) {
            seconds = Double(trimmed.dropLast(unit.suffix.count)).map { $0 * unit.seconds }
        } else {
            seconds = Double(trimmed)
        }
        let most = Double(WorkflowLimits.longestDurationDays * 86_400)
        guard let seconds, seconds.isFinite, seconds == 0 || (0.001...most).contains(seconds) else {
            throw CLIFailure(
                "--reload-interval: expected 0 (off) or a duration from 1ms to \(WorkflowLimits.longestDurationDays) "
                    + "days such as 1s, 500ms or 2m, found \"\(text)\"")
        }
        return .milliseconds(Int((seconds * 1000).rounded()))
    }
}
