import RelayCore
import RelaySDK

/// `sleep/sleep`: waits `interval` seconds (without holding a thread: other jobs of the worker run meanwhile) and
/// returns it. A negative interval fails with the original's cause and assistance. A missing one fails too (the
/// original crashes on it with a Python TypeError); here the error says what is missing. The step's timeout bounds
/// the wait, as for any action.
struct SleepAction: PluginAction {
    typealias Connection = NoConnection
    static let name = "sleep"

    static let longest = 365 * 24 * 3600
    struct Input: Decodable, Sendable { var interval: Int? }
    struct Output: Encodable, Sendable { var slept: Int }

    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
        guard let interval = input.interval else {
            throw PluginError(cause: "Wrong input", assistance: "Interval is required: the seconds to sleep")
        }
        guard interval >= 0 else {
            throw PluginError(cause: "Wrong input", assistance: "Interval should not be less than zero")
        }
        // A deadline past Int64 nanoseconds would trap; no step waits a year (its timeout ends it long before).
        guard interval <= Self.longest else {
            throw PluginError(
                cause: "Wrong input", assistance: "Interval should be at most \(Self.longest) seconds (a year)")
        }
        try await Task.sleep(for: .seconds(interval))
        return Output(slept: interval)
    }
}
