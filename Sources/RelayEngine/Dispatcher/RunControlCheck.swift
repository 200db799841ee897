import RelayCore
import RelayStore

/// Whether a request on `relay.control` makes sense for a run as it stands: what `relay runs cancel|resume|answer`
/// and the API check before they send it (the dispatcher checks again when it handles it: the run may have moved
/// on in between).
public enum RunControlCheck {
    /// Why a request cannot be made: the run's state conflicts with it, or the request itself is wrong.
    public struct Problem: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// The run is not in a state the request applies to (HTTP 409).
            case conflict
            /// The request names something the run does not have (HTTP 400).
            case invalid
        }
        public var kind: Kind
        public var message: String
    }

    public static func cancel(_ detail: RunDetail) -> Problem? {
        detail.summary.status == .running
            ? nil : Problem(kind: .conflict, message: "only a running run can be cancelled")
    }

    public static func resume(_ detail: RunDetail) -> Problem? {
        let run = detail.summary
        if let parent = run.parentRunID {
            return Problem(
                kind: .conflict,
                message: "it is the run of a sub-workflow step of run \(parent); resume that run")
        }
        return run.status == .failed || run.status == .cancelled
            ? nil : Problem(kind: .conflict, message: "only a failed or cancelled run can be resumed")
    }

    public static func answer(_ detail: RunDetail, step: String, option: String) -> Problem? {
        guard detail.summary.status == .running else {
            return Problem(kind: .conflict, message: "only a running run waits for an answer")
        }
        guard let attempt = detail.steps.last(where: { $0.stepID == step }) else {
            return Problem(kind: .conflict, message: "step \(step) has not been reached (or is not a step of the run)")
        }
        guard attempt.status == .running,
            let offered = attempt.input?.objectValue?["options"]?.arrayValue?.compactMap(\.stringValue),
            attempt.input?.objectValue?["question"] != nil
        else {
            return Problem(
                kind: .conflict, message: "step \(step) does not wait for an answer (it is \(attempt.status.rawValue))")
        }
        guard offered.contains(option) else {
            return Problem(
                kind: .invalid,
                message: "\"\(option)\" is not an option of step \(step); its options are "
                    + offered.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return nil
    }
}
