import Foundation

/// Regular-expression searches with a time limit: a pattern from a workflow file and a text from outside (an
/// event, a plugin's output) can backtrack for minutes (`(a+)+$` over forty `a`s and a `b`), and the dispatcher
/// that runs them must go on deciding. ICU reports progress during a long search; past `limit` the search stops.
public enum RegexSearch {
    /// How long one search may take.
    public static let limit = Duration.milliseconds(250)
    /// The most matches one search collects (`all`).
    public static let mostMatches = 10_000

    public enum Outcome {
        case matches([NSTextCheckingResult])
        /// The search took longer than the limit.
        case timedOut
    }

    /// The first match of `regex` in `text` (or every match, `all`, up to `mostMatches`), or `.timedOut`.
    public static func search(
        _ regex: NSRegularExpression, in text: String, all: Bool, limit: Duration = RegexSearch.limit
    ) -> Outcome {
        let deadline = ContinuousClock.now + limit
        var found: [NSTextCheckingResult] = []
        var timedOut = false
        regex.enumerateMatches(
            in: text, options: [.reportProgress], range: NSRange(text.startIndex..., in: text)
        ) { match, _, stop in
            if let match {
                found.append(match)
                if !all || found.count >= mostMatches { stop.pointee = true }
            }
            if ContinuousClock.now > deadline {
                timedOut = true
                stop.pointee = true
            }
        }
        return timedOut ? .timedOut : .matches(found)
    }
}
