import RelayCore
import RelayStore
import RelayTransport

/// What an operator does with the dead letters kept in the run store (`relay dlq`, the API): list them, redrive
/// one to its source topic, discard one.
///
/// Redrive publishes the original message (key, value, its own headers; not the `relay.dlq.*` headers nor the
/// dispatcher's `relay.unbound.tries` count, so it is handled afresh) and removes the record in one store
/// transaction: with the embedded bus one SQLite transaction, on Kafka through the store's outbox. Either both
/// happen or neither.
public struct DeadLetterDesk: Sendable {
    let store: any RunStore

    public init(store: any RunStore) {
        self.store = store
    }

    public func list(limit: Int, after: Int64?) async throws -> [DeadLetterRecord] {
        try await store.deadLetters(limit: limit, after: after)
    }

    /// Publishes the original message (key, value, original headers) back to its source topic and removes the
    /// record, in one store transaction; nil when there is no such dead letter. Throws
    /// `RelayError(.invalidValue)` (and changes nothing) for a letter that cannot go back: one that was not a
    /// readable dead letter (no source topic), one kept truncated, one whose source is `relay.dlq` itself.
    public func redrive(id: Int64) async throws -> DeadLetterRecord? {
        try await store.transaction(acknowledging: []) { tx -> (DeadLetterRecord?, [BusMessage]) in
            guard let record = try tx.removeDeadLetter(id: id) else { return (nil, []) }
            // Throwing rolls the removal back.
            if let problem = Self.problem(redriving: record) {
                throw RelayError(.invalidValue, "dead letter \(id): \(problem); discard it instead")
            }
            return (record, [Self.original(record)])
        }
    }

    /// Removes it; false when there is no such dead letter.
    public func discard(id: Int64) async throws -> Bool {
        try await store.transaction(acknowledging: []) { tx in (try tx.removeDeadLetter(id: id) != nil, []) }
    }

    /// Why the letter cannot be redriven, or nil.
    static func problem(redriving record: DeadLetterRecord) -> String? {
        if record.sourceTopic.isEmpty {
            return "it has no source topic to go back to (it was no readable dead letter: \(record.reason))"
        }
        if record.sourceTopic == Topics.dlq { return "its source topic is \(Topics.dlq) itself" }
        if record.truncated { return "it was kept truncated (\(record.reason)), so the original message is lost" }
        return nil
    }

    /// The message as it was before it was dead-lettered.
    static func original(_ record: DeadLetterRecord) -> BusMessage {
        let headers = record.headers.filter { !$0.key.hasPrefix("relay.dlq.") && $0.key != Dispatcher.unboundTries }
        return BusMessage(topic: record.sourceTopic, key: record.key, value: record.value, headers: headers)
    }
}
