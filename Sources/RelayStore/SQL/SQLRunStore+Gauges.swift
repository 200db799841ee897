import RelayTransport

/// What `/metrics` and `/readyz` read from the run store: cheap counts on the database's reader.
extension SQLRunStore {
    /// Whether the database answers a query (for `/readyz`).
    public func isReachable() async -> Bool {
        (try? await database.readSession { db in try db.query("SELECT EXISTS (SELECT 1 FROM runs)").count }) == 1
    }

    /// Retries (of steps, items and sub-workflow steps) waiting for their backoff; events no workflow is bound to
    /// yet, also kept there to be looked at again, are not counted.
    public func scheduledRetries() async throws -> Int64 {
        try await database.readSession { db in
            try db.query("SELECT COUNT(*) FROM scheduled_jobs WHERE job_id NOT LIKE 'event:%'").first?.first?.int ?? 0
        }
    }

    /// The dead letters kept in the store (`dead_letters`); 0 when the store keeps none (no such table).
    public func storedDeadLetters() async throws -> Int64 {
        try await database.readSession { db in
            guard try Self.hasTable(db, "dead_letters") else { return 0 }
            return try db.query("SELECT COUNT(*) FROM dead_letters WHERE removed_at IS NULL").first?.first?.int ?? 0
        }
    }
}
