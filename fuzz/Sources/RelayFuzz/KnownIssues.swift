#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Invariant violations already found and being fixed elsewhere (docs/fuzzing.md, "Findings"). While a fix is on
/// its way, the harness skips inputs that show one, so that a run keeps looking for new problems instead of
/// finding the same one again; `RELAY_FUZZ_KNOWN=trap` makes them trap, to check whether a fix has landed.
/// Remove an entry once its fix is merged.
enum KnownIssue: String {
    /// Strict JSONParser reads a number beyond a double's range (`1e400`) as infinity, which no strict writer can
    /// write back. Being fixed with the JSON limits (numbers beyond a double's range rejected).
    case jsonNumberOverflow
    /// WorkflowDecoder multiplies durations (`timeout: 1e300`, `backoff: 9e18s`) into an Int without a range
    /// check and traps. Being fixed with the workflow duration limits.
    case workflowDurationOverflow

    static let trapsKnown: Bool = getenv("RELAY_FUZZ_KNOWN").map { String(cString: $0) == "trap" } ?? false

    /// True when the input should be skipped because it shows this known issue.
    func skips(_ shows: Bool, _ message: @autoclosure () -> String) -> Bool {
        guard shows else { return false }
        fuzzCheck(!KnownIssue.trapsKnown, "known issue \(rawValue): \(message())")
        return true
    }
}
