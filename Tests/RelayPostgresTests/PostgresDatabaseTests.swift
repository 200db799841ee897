import Dispatch
import RelayCore
import RelayTransport
import Synchronization
import Testing

@testable import RelayPostgres

@Suite(.enabled(if: PostgresTestServer.url != nil, PostgresTestServer.skipReason))
struct PostgresDatabaseTests {
    @Test func everyValueRoundTripsThroughTypedColumns() async throws {
        try await PostgresTestServer.withSchema { database, schema in
            let rows: [[SQLValue]] = [
                [.text("plain"), .int(0), .double(0), .blob([])],
                [.text("it's \"quoted\" ? é 🦊 \\x00"), .int(.max), .double(0.1), .blob([0, 1, 0x7F, 0x80, 0xFF])],
                [.text(""), .int(.min), .double(-1e300), .blob(Array(repeating: 0xAB, count: 1000))],
                [.null, .null, .null, .null],
                [.text("x"), .int(-1), .double(.infinity), .blob([0x5C])],
                [.text("y"), .int(42), .double(5e-324), .null],
            ]
            try await database.writeTransaction { session in
                try session.execute(
                    "CREATE TABLE \(schema).v (n INT PRIMARY KEY, t TEXT, i BIGINT, d DOUBLE PRECISION, b BYTEA)")
                for (n, row) in rows.enumerated() {
                    try session.query("INSERT INTO \(schema).v VALUES (?, ?, ?, ?, ?)", [.int(Int64(n))] + row)
                }
            }
            let read = try await database.readSession { session in
                try session.query("SELECT t, i, d, b FROM \(schema).v ORDER BY n", [])
            }
            #expect(read == rows)
            let nan = try await database.readSession { session in
                try session.query("SELECT ?::float8, 1.5::numeric, true, false, 'a'::varchar, 7::int2", [.double(.nan)])
            }
            #expect(nan.count == 1)
            guard case .double(let notANumber) = nan[0][0] else { throw RelayError(.invalidValue, "\(nan[0][0])") }
            #expect(notANumber.isNaN)
            #expect(Array(nan[0].dropFirst()) == [.double(1.5), .int(1), .int(0), .text("a"), .int(7)])
        }
    }

    @Test func parametersTakeTheirTypeFromTheirContext() async throws {
        try await PostgresTestServer.withSchema { database, schema in
            let found = try await database.writeTransaction { session in
                try session.execute("CREATE TABLE \(schema).m (d DOUBLE PRECISION, t TEXT, b BYTEA, i BIGINT)")
                // An int into a double column, an int as text, and a NULL of every column's type.
                try session.query(
                    "INSERT INTO \(schema).m VALUES (?, ?, ?, ?)", [.int(3), .int(12), .blob([1]), .int(4)])
                try session.query("INSERT INTO \(schema).m VALUES (?, ?, ?, ?)", [.null, .null, .null, .null])
                return try session.query(
                    "SELECT d, t, i FROM \(schema).m WHERE d > ? AND d = ? AND d < ? AND i = ? AND t = ? AND b = ?",
                    [.int(2), .double(3), .double(3.5), .int(4), .text("12"), .blob([1])])
            }
            #expect(found == [[.double(3), .text("12"), .int(4)]])
            // Nothing in the statement says what type the parameter is: it is sent typed (PostgreSQL: 42P18 first).
            let isNull = try await database.readSession { session in
                try session.query("SELECT ? IS NULL, ? IS NULL", [.null, .int(1)])
            }
            #expect(isNull == [[.int(1), .int(0)]])
            let inTransaction = try await database.writeTransaction { session in
                try session.query("SELECT count(*) FROM \(schema).m WHERE ? IS NULL OR d = ?", [.text("x"), .int(3)])
            }
            #expect(inTransaction == [[.int(1)]])
            let nullCount = try await database.readSession { session in
                try session.query("SELECT count(*) FROM \(schema).m WHERE t IS NOT DISTINCT FROM ?", [.null])
            }
            #expect(nullCount == [[.int(1)]])
        }
    }

    @Test func questionMarksInLiteralsIdentifiersAndCommentsAreNotParameters() async throws {
        try await PostgresTestServer.withSchema { database, _ in
            let rows = try await database.readSession { session in
                try session.query(
                    """
                    SELECT '?' AS "a?", ? AS "?b", E'\\'?' -- what? ?
                    , /* ? /* ? */ ? */ $$?$$, ?
                    """, [.text("first"), .int(2)])
            }
            #expect(rows == [[.text("?"), .text("first"), .text("'?"), .text("?"), .text("2")]])
        }
    }

    @Test func changesCountsTheRowsOfTheLatestWrite() async throws {
        try await PostgresTestServer.withSchema { database, schema in
            let counts = try await database.writeTransaction { session in
                try session.execute("CREATE TABLE \(schema).c (k TEXT PRIMARY KEY, n BIGINT)")
                var counts: [Int] = []
                try session.query("INSERT INTO \(schema).c VALUES ('a', 1), ('b', 2), ('c', 3)", [])
                counts.append(session.changes)
                try session.query("UPDATE \(schema).c SET n = n + 1 WHERE n >= ?", [.int(2)])
                counts.append(session.changes)
                try session.query("SELECT * FROM \(schema).c", [])
                counts.append(session.changes) // a SELECT leaves it
                try session.query("INSERT INTO \(schema).c VALUES ('a', 9) ON CONFLICT DO NOTHING", [])
                counts.append(session.changes)
                let returned = try session.query("INSERT INTO \(schema).c VALUES (?, 5) RETURNING n * 2", [.text("d")])
                #expect(returned == [[.int(10)]])
                counts.append(session.changes)
                try session.query("DELETE FROM \(schema).c WHERE k <> ?", [.text("a")])
                counts.append(session.changes)
                return counts
            }
            #expect(counts == [3, 2, 2, 0, 1, 3])
        }
    }

    @Test func aTransactionThatThrowsIsRolledBack() async throws {
        struct Abandon: Error {}
        try await PostgresTestServer.withSchema { database, schema in
            try database.syncWriteTransaction { session in try session.execute("CREATE TABLE \(schema).r (n BIGINT)") }
            await #expect(throws: Abandon.self) {
                try await database.writeTransaction { session in
                    try session.query("INSERT INTO \(schema).r VALUES (1)", [])
                    throw Abandon()
                }
            }
            let count = try await database.readSession { session in
                try session.query("SELECT count(*) FROM \(schema).r", [])
            }
            #expect(count == [[.int(0)]])
        }
    }

    @Test func twoTransactionsThatDeadlockBothCommitAfterARetry() async throws {
        try await PostgresTestServer.withSchema { database, schema in
            try database.syncWriteTransaction { session in
                try session.execute(
                    "CREATE TABLE \(schema).d (k BIGINT PRIMARY KEY, n BIGINT);"
                        + " INSERT INTO \(schema).d VALUES (1, 0), (2, 0)"
                )
            }
            // Each transaction locks its first row, waits until the other has locked its own, then updates the
            // other's row: PostgreSQL aborts one with 40P01. Only first attempts wait (a retry must not).
            let meeting = DeadlockMeeting()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (mine, other) in [(0, 1), (1, 0)] {
                    group.addTask {
                        try await database.writeTransaction { session in
                            let attempt = meeting.attempts.withLock { attempts in
                                attempts[mine] += 1
                                return attempts[mine]
                            }
                            try session.query("UPDATE \(schema).d SET n = n + 1 WHERE k = ?", [.int(Int64(mine + 1))])
                            if attempt == 1 {
                                meeting.locked[mine].signal()
                                meeting.locked[other].wait()
                            }
                            try session.query("UPDATE \(schema).d SET n = n + 10 WHERE k = ?", [.int(Int64(other + 1))])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await database.readSession { session in
                try session.query("SELECT k, n FROM \(schema).d ORDER BY k", [])
            }
            #expect(rows == [[.int(1), .int(11)], [.int(2), .int(11)]])
            #expect(meeting.attempts.withLock { $0.reduce(0, +) } >= 3)
        }
    }

    @Test func aSyntaxErrorNamesItsSQLState() async throws {
        try await PostgresTestServer.withSchema { database, _ in
            let error = await #expect(throws: RelayError.self) {
                try await database.readSession { session in try session.query("SELEC 1 FROM nowhere", []) }
            }
            let failure = try #require(error.flatMap { PostgresStatementError.of($0) })
            #expect(failure.sqlState == "42601")
            #expect(error?.message.contains("42601") == true)
            #expect(error?.message.contains("SELEC 1 FROM nowhere") == true)
            #expect(error?.message.hasPrefix("PostgreSQL at postgres://") == true)
            // The database goes on.
            let one = try await database.readSession { session in try session.query("SELECT 1", []) }
            #expect(one == [[.int(1)]])
        }
    }

    @Test func aWrongNumberOfValuesIsAnError() async throws {
        try await PostgresTestServer.withSchema { database, _ in
            let error = await #expect(throws: RelayError.self) {
                try await database.readSession { session in try session.query("SELECT ?, ?", [.int(1)]) }
            }
            #expect(error?.message.contains("expected 2 values") == true)
        }
    }

    @Test func theServersConnectionClosingIsAnErrorAndTheNextUseReconnects() async throws {
        try await PostgresTestServer.withSchema(connections: 1) { database, _ in
            let pid = try await database.readSession { session in try session.query("SELECT pg_backend_pid()", []) }
            let other = try PostgresDatabase(url: try #require(PostgresTestServer.url), connections: 1)
            defer { other.close() }
            let terminated = try await other.readSession { session in
                try session.query("SELECT pg_terminate_backend(?)", pid[0])
            }
            #expect(terminated == [[.int(1)]])
            // The first use may or may not see the connection close (it may have noticed already); a second works.
            _ = try? await database.readSession { session in try session.query("SELECT 1", []) }
            let after = try await database.readSession { session in try session.query("SELECT pg_backend_pid()", []) }
            #expect(after != pid)
        }
    }

    @Test func aClosedDatabaseRefusesBodies() async throws {
        let database = try PostgresDatabase(url: try #require(PostgresTestServer.url))
        _ = try await database.readSession { session in try session.query("SELECT 1", []) }
        database.close()
        await #expect(throws: RelayError.self) {
            try await database.readSession { session in try session.query("SELECT 1", []) }
        }
    }

    @Test func thePasswordAppearsNeitherInTheLocationNorInErrors() async throws {
        let url = try #require(PostgresTestServer.url)
        // The test server trusts local connections: a password is ignored, and must not show anywhere.
        let withPassword = url.replacingOccurrences(of: "@", with: ":s3cr%40et@")
        let database = try PostgresDatabase(url: withPassword)
        defer { database.close() }
        #expect(database.location.contains(":***@"))
        #expect(!database.location.contains("s3cr"))
        let error = await #expect(throws: RelayError.self) {
            try await database.readSession { session in try session.query("SELECT * FROM no_such_table", []) }
        }
        #expect(error.map { "\($0)" }?.contains("s3cr") == false)
        #expect(error?.message.contains("42P01") == true)
    }
}

/// Where the two transactions of the deadlock test meet: each signals that it locked its first row and waits for
/// the other's signal; and how many times each body ran.
final class DeadlockMeeting: Sendable {
    // DispatchSemaphore is thread-safe; it is not declared Sendable on every platform.
    nonisolated(unsafe) let locked = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
    let attempts = Mutex([0, 0])
}
