import Foundation
import RelayCore
import RelayTestSupport
import RelayTransport
import Synchronization
import Testing

@testable import RelayStore

/// Several dispatchers sharing one PostgreSQL run store: work is taken once, decisions about one run are made one
/// after the other, and what a dead dispatcher left in the outbox is published by another, once.
@Suite(.enabled(if: TestPostgres.url != nil, "no PostgreSQL: set RELAY_TEST_POSTGRES_URL (scripts/test starts one)"))
struct SharedStoreTests {
    static let event = SQLRunStoreTests.event

    @Test func dueRetriesAndPassedDeadlinesAreTakenOnceByConcurrentDispatchers() async throws {
        try await TestPostgres.withDatabase { database, _ in
            let transport = RecordingTransport()
            let first = try SQLRunStore(database: database, publishingTo: transport)
            let second = try SQLRunStore(database: database, publishingTo: transport)
            try await first.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                for n in 0..<300 {
                    try tx.schedule(BusMessage(topic: "t", key: "\(n)", value: []), jobID: "job-\(n)", dueAt: 10)
                    try tx.addDeadline(
                        JobDeadline(jobID: "d-\(n)", runID: "r", workflow: "w", seconds: 1, error: "late"),
                        startingAt: 0)
                }
                return ((), [])
            }
            // Both take in small batches at once, until nothing is left.
            @Sendable func drain(_ store: SQLRunStore) async throws -> [String] {
                var taken: [String] = []
                while true {
                    let batch = try await store.transaction(acknowledging: []) { tx -> ([String], [BusMessage]) in
                        let due = try tx.takeDueJobs(now: 50, limit: 7).map(\.key)
                        let overdue = try tx.takeOverdueJobs(now: 50, limit: 7).map(\.jobID)
                        return (due + overdue, [])
                    }
                    if batch.isEmpty { return taken }
                    taken += batch
                }
            }
            async let a = drain(first)
            async let b = drain(second)
            let (byFirst, bySecond) = try await (a, b)
            let all = byFirst + bySecond
            #expect(all.count == 600, "each retry and each deadline taken once: \(all.count)")
            #expect(Set(all).count == 600)
            #expect(!byFirst.isEmpty && !bySecond.isEmpty, "both took work: \(byFirst.count) and \(bySecond.count)")
        }
    }

    @Test func aDecisionAboutARunWaitsForAnotherDispatchersDecisionAboutItAndSeesIt() async throws {
        try await TestPostgres.withDatabase { database, _ in
            let transport = RecordingTransport()
            let first = try SQLRunStore(database: database, publishingTo: transport)
            let second = try SQLRunStore(database: database, publishingTo: transport)
            try await first.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                _ = try tx.recordEvent(Self.event)
                _ = try tx.createRun(id: "run-1", workflow: "w", event: Self.event)
                try tx.addStep(
                    StepAttemptRecord(jobID: "run-1/a/1", runID: "run-1", stepID: "a", attempt: 1, status: .running))
                return ((), [])
            }
            let holding = Mutex(false)
            let release = Mutex(false)
            // The first dispatcher reads the run (locking it) and records a's result, then holds its transaction
            // open until told to commit.
            async let firstDecision: Void = first.transaction(acknowledging: []) { tx -> (Void, [BusMessage]) in
                _ = try tx.runRecord(id: "run-1")
                try tx.finishStep(jobID: "run-1/a/1", result: .success(["x": 1]), startedAt: nil)
                holding.withLock { $0 = true }
                while !release.withLock({ $0 }) { usleep(1_000) }
                return ((), [])
            }
            #expect(await waitFor(seconds: 30) { holding.withLock { $0 } })
            // The second reads the same run: it waits for the lock (seen from the server's lock table) …
            async let secondStatus = second.transaction(acknowledging: []) { tx -> (StepStatus?, [BusMessage]) in
                _ = try tx.runRecord(id: "run-1")
                return (try tx.latestSteps(runID: "run-1")["a"]?.status, [])
            }
            #expect(
                await waitFor(seconds: 30) {
                    (try? await database.readSession { db in
                        try db.query("SELECT COUNT(*) FROM pg_locks WHERE NOT granted").first?[0].int ?? 0
                    }) ?? 0 > 0
                })
            // … and once the first commits, it sees the result recorded.
            release.withLock { $0 = true }
            try await firstDecision
            #expect(try await secondStatus == .succeeded)
        }
    }

    @Test func whatADeadDispatcherLeftInTheOutboxIsPublishedByAnotherOnceItsLeaseRunsOut() async throws {
        try await TestPostgres.withDatabase { database, _ in
            let broken = RecordingTransport()
            broken.failing = true
            let delivery = Delivery(message: BusMessage(topic: "in", key: "k", value: []), offset: 7, group: "g")
            // Two dispatchers' decisions commit, and publishing fails (each process dies there): one's messages are
            // leased for an hour, the other's lease has run out at once. Neither input is acknowledged.
            for (lease, values) in [(3_600.0, [[UInt8(1)]]), (0, [[2], [3]])] {
                let dead = try SQLRunStore(database: database, publishingTo: broken, outboxLease: lease)
                await #expect(throws: RelayError.self) {
                    try await dead.transaction(acknowledging: [delivery]) { _ in
                        ((), values.map { BusMessage(topic: "out", key: "k", value: $0) })
                    }
                }
            }
            #expect(broken.log.isEmpty)
            // A live dispatcher publishes what is no longer leased, once and in order, and leaves the rest alone.
            let transport = RecordingTransport()
            let live = try SQLRunStore(database: database, publishingTo: transport)
            try await live.publishPending()
            try await live.publishPending()
            #expect(transport.published.map(\.value) == [[2], [3]])
            let left = try await database.readSession { db in
                try db.query("SELECT value FROM relay_outbox").map { $0[0].blob ?? [] }
            }
            #expect(left == [[1]], "the message still leased stays for its writer")
        }
    }

    @Test func migrationsAreVersionedAndAppliedOnce() async throws {
        try await TestPostgres.withDatabase { database, _ in
            #expect(try await SQLRunStore.schemaVersion(database) == 0)
            #expect(try SQLRunStore.migrate(database) == SQLRunStore.postgresMigrations.map(\.version))
            #expect(SQLRunStore.postgresSchemaVersion == 3)
            #expect(try SQLRunStore.migrate(database).isEmpty)
            #expect(try await SQLRunStore.schemaVersion(database) == SQLRunStore.postgresSchemaVersion)
            // A schema a later Relay wrote is refused, not altered.
            try database.syncWriteTransaction { db -> Void in
                try db.query(
                    "INSERT INTO relay_schema_migrations (version, summary, applied_at) VALUES (?, ?, ?)",
                    [.int(99), .text("later"), .double(0)])
            }
            let error = #expect(throws: RelayError.self) { try SQLRunStore.migrate(database) }
            #expect(error?.message.contains("schema is at version 99, written by a later Relay") == true)
        }
    }

    @Test func triggerStateIsSharedByTriggerHosts() async throws {
        try await TestPostgres.withDatabase { database, _ in
            try SQLRunStore.migrate(database)
            let one = try SQLTriggerStateStore(database: database)
            let other = try SQLTriggerStateStore(database: database)
            try await one.save(["tick": 41], of: "timer#1")
            #expect(try await other.state(of: "timer#1") == ["tick": 41])
        }
    }
}
