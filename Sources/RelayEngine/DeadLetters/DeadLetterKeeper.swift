import Logging
import RelayCore
import RelayStore
import RelayTransport

/// Keeps what lands on `relay.dlq` in the run store (group `relay.dlq.keeper`), where operators list, redrive and
/// discard it (`DeadLetterDesk`, `relay dlq`). Runs wherever the dispatcher runs (`relay up`, `relay dispatcher`),
/// over the dispatcher's store.
///
/// Each batch of deliveries is recorded and acknowledged in one store transaction, and a letter is unique by its
/// position on `relay.dlq`, so a redelivered message is kept once. A message of `relay.dlq` that is not a readable
/// dead letter (its `relay.dlq.*` headers missing or wrong) is kept anyway, with the reason
/// `unreadable dead letter: …` and no source topic: never a crash, never a loop (the keeper publishes nothing).
///
/// Shutdown: cancellation stops intake; the batch being recorded finishes its transaction first.
public final class DeadLetterKeeper: Sendable {
    public static let group = "relay.dlq.keeper"

    let bus: any Transport
    let store: any RunStore
    let logger: Logger

    public init(bus: any Transport, store: any RunStore, logger: Logger = Logger(label: "relay.dlq.keeper")) {
        self.bus = bus
        self.store = store
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async throws {
        let subscription = try await bus.subscribe(topic: Topics.dlq, group: Self.group)
        do {
            while true {
                let batch = try await subscription.nextBatch(maximum: 256)
                if batch.isEmpty { break }
                let kept = try await store.transaction(acknowledging: batch) { tx -> (Int, [BusMessage]) in
                    var kept = 0
                    for delivery in batch {
                        let letter = Self.letter(delivery.message)
                        if try tx.recordDeadLetter(letter, partition: delivery.partition, offset: delivery.offset) {
                            kept += 1
                        }
                    }
                    return (kept, [])
                }
                if kept > 0 { logger.info("kept \(kept) dead letter(s) in the run store (relay dlq list)") }
            }
        } catch {
            await subscription.close()
            throw error
        }
        await subscription.close()
    }

    /// The dead letter a message of `relay.dlq` carries; one that is not readable is kept as what it is.
    static func letter(_ message: BusMessage) -> DeadLetter {
        do {
            return try DeadLetter(message)
        } catch {
            return DeadLetter(
                reason: "unreadable dead letter: \(error)", sourceTopic: "", offset: -1, key: message.key,
                value: message.value, originalHeaders: message.headers)
        }
    }
}
