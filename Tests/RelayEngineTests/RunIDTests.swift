import RelayCore
import Testing

@testable import RelayEngine

/// A run's id: the same for the same event and workflow, in the order the events came, and as before for an event
/// without a usable time.
@Suite struct RunIDTests {
    static func event(_ id: String, time: Double?) -> TriggerEvent {
        TriggerEvent(id: id, instance: "webhook:hook", output: ["n": 1], time: time)
    }

    @Test func theSameEventGivesTheSameRunAndAnotherWorkflowAnother() throws {
        let event = Self.event("e-1", time: 1_796_449_806.635_690_2)
        let id = Dispatcher.runID(of: event, workflow: "w")
        // Through the bus and back, as a redelivered event comes.
        let redelivered = try TriggerEvent(bytes: event.message.value)
        #expect(Dispatcher.runID(of: redelivered, workflow: "w") == id)
        #expect(Dispatcher.runID(of: event, workflow: "other") != id)
        #expect(Dispatcher.runID(of: Self.event("e-2", time: event.time), workflow: "w") != id)
        // run- + the time in microseconds + the hash, 16 hexadecimal digits each.
        #expect(id.count == 4 + 32 && id.hasPrefix("run-000661dc9094d2aa"))
        #expect(id.dropFirst(4).allSatisfy { $0.isHexDigit })
    }

    @Test func runsOfLaterEventsSortLater() {
        let start = 1_796_449_806.0
        let ids = (0..<1_000).map { n in
            Dispatcher.runID(
                of: Self.event("event-\(n * 7919 % 1_000)", time: start + Double(n) * 0.000_003), workflow: "w")
        }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test(arguments: [nil, -1, .nan, .infinity, 1e300, 95_617_584_000])
    func anEventWithoutAUsableTimeGetsTheHashAlone(time: Double?) {
        let id = Dispatcher.runID(of: Self.event("e-1", time: time), workflow: "w")
        #expect(id == "run-" + String(StableHash.fnv1a("e-1/w"), radix: 16))
    }

    /// The digits written in place are those of `String(_:radix:)`, padded with zeros to sixteen: over times and ids
    /// whose hashes and microseconds have leading zeros, and the largest time taken.
    @Test func theDigitsAreTheTimesAndTheHashsInHexadecimal() {
        func padded(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        var generator = SystemRandomNumberGenerator()
        let times =
            [0, 0.000_001, 1, 1_796_449_806.635_690_2, 95_617_583_999.999]
            + (0..<200).map { _ in Double.random(in: 0..<95_617_584_000, using: &generator) }
        for (n, time) in times.enumerated() {
            let event = Self.event("e-\(n)", time: time)
            let expected = "run-" + padded(UInt64(time * 1_000_000)) + padded(StableHash.fnv1a("e-\(n)/w"))
            #expect(Dispatcher.runID(of: event, workflow: "w") == expected, "time \(time)")
        }
    }
}
