/// A transport that can commit a consumer's decision atomically: state written to the run store (a SQLite
/// database, in every deployment), the messages the decision causes, and the acknowledgement of its input.
///
/// The embedded bus does it in one SQLite transaction. A Kafka implementation writes the messages to an outbox
/// table in the same transaction, publishes the outbox transactionally, then commits the input's offsets. The
/// dispatcher is written against this protocol, the workers and the trigger host against `Transport` alone.
public protocol LedgerTransport: Transport {
    /// The run store's database.
    var database: SQLiteDatabase { get }

    /// Runs `body` in one transaction of `database` that also publishes what it returns and acknowledges
    /// `deliveries`.
    func transaction<T: Sendable>(
        acknowledging deliveries: [Delivery],
        _ body: @escaping @Sendable (SQLiteConnection) throws -> (T, [BusMessage])
    ) async throws -> T
}

extension EmbeddedBus: LedgerTransport {}
