import RelayCore
import RelayTransport

// The typed messages (RelayCore) as bus messages on Relay's topics: which topic, which key.

extension TriggerEvent {
    /// On `relay.events`, keyed by the trigger instance (one instance's events keep their order).
    public var message: BusMessage { BusMessage(topic: Topics.events, key: instance, json: json) }
}

extension RunNotice {
    /// On `relay.runs`, keyed by the run.
    public var message: BusMessage { BusMessage(topic: Topics.runs, key: runID, json: json) }
}

extension RunControl {
    /// On `relay.control`, keyed by the run (ordered with the run's other requests).
    public var message: BusMessage { BusMessage(topic: Topics.control, key: runID, json: json) }
}

extension DeadLetter {
    /// The dead letter of a delivery no consumer could handle.
    public init(_ delivery: Delivery, reason: String) {
        self.init(
            reason: reason, sourceTopic: delivery.message.topic, offset: delivery.offset, key: delivery.message.key,
            value: delivery.message.value, originalHeaders: delivery.message.headers)
    }

    /// Reads a message of the dead-letter topic.
    public init(_ message: BusMessage) throws(MessageDecodingError) {
        try self.init(key: message.key, value: message.value, headers: message.headers)
    }

    /// On `relay.dlq`, with the original key.
    public var message: BusMessage { BusMessage(topic: Topics.dlq, key: key, value: value, headers: headers) }
}
