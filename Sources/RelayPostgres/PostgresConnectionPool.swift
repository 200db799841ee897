import Dispatch
import Logging
import NIOCore
import PostgresNIO
import RelayCore
import Synchronization

/// At most `size` connections, each lent to one body at a time; bodies wait for one when all are lent.
final class PostgresConnectionPool: Sendable {
    private struct State {
        var idle: [PostgresPooledConnection] = []
        var closed = false
        var nextID = 1
    }

    private let state = Mutex(State())
    // DispatchSemaphore is thread-safe (it is what it is for); it is not declared Sendable on every platform.
    nonisolated(unsafe) private let slots: DispatchSemaphore

    init(size: Int) {
        slots = DispatchSemaphore(value: size)
    }

    func nextConnectionID() -> Int {
        state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    /// An idle connection, or a new one from `connect` when none is idle; waits while all `size` are lent.
    func checkOut(
        connect: () throws(RelayError) -> PostgresPooledConnection
    ) throws(RelayError) -> PostgresPooledConnection {
        slots.wait()
        // An idle connection that the server closed meanwhile (a restart) is dropped and replaced, not lent.
        let (closed, idle, dead): (Bool, PostgresPooledConnection?, [PostgresPooledConnection]) = state.withLock {
            state in
            var dead: [PostgresPooledConnection] = []
            while !state.closed, let last = state.idle.popLast() {
                guard last.connection.isClosed else { return (false, last, dead) }
                dead.append(last)
            }
            return (state.closed, nil, dead)
        }
        for connection in dead { connection.close(wait: false) }
        if closed {
            slots.signal()
            throw RelayError(.io, "PostgreSQL: the database was closed")
        }
        if let idle { return idle }
        do {
            return try connect()
        } catch {
            slots.signal()
            throw error
        }
    }

    /// Takes back a lent connection: closed instead when it broke or the pool was closed meanwhile.
    func checkIn(_ connection: PostgresPooledConnection, broken: Bool) {
        let keep = state.withLock { state in
            guard !broken, !state.closed else { return false }
            state.idle.append(connection)
            return true
        }
        if !keep { connection.close(wait: false) }
        slots.signal()
    }

    /// Marks the pool closed and hands back its idle connections for the caller to close.
    func closeAll() -> [PostgresPooledConnection] {
        state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
    }
}

/// One connection of the pool and what is known about it.
// @unchecked Sendable: the pool lends it to one body at a time (`isBroken` is only touched by that body's
// thread); `connection` itself is Sendable.
final class PostgresPooledConnection: @unchecked Sendable {
    let connection: PostgresConnection
    let location: String
    let logger: Logger
    /// The connection failed (not just a statement on it): it is closed instead of going back to the pool.
    var isBroken = false

    init(connection: PostgresConnection, location: String, logger: Logger) {
        self.connection = connection
        self.location = location
        self.logger = logger
    }

    /// Runs one statement, blocking until PostgreSQL answered; a failure becomes a `RelayError` whose underlying
    /// error is a `PostgresStatementError`.
    func query(_ query: PostgresQuery, sql: String) throws(RelayError) -> PostgresQueryResult {
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            let failure = PostgresStatementError(error, sql: sql)
            if failure.isConnectionFailure || connection.isClosed { isBroken = true }
            throw RelayError(
                .io, "PostgreSQL at \(location): \(failure.description)", underlying: failure,
                isRetriable: failure.isConflict || isBroken)
        }
    }

    /// Runs one statement without parameters, ignoring its rows.
    func run(_ sql: String) throws(RelayError) {
        _ = try query(PostgresQuery(unsafeSQL: sql), sql: sql)
    }

    func close(wait: Bool) {
        let connection = connection
        let closing: EventLoopFuture<Void> = connection.close()
        if wait {
            try? closing.wait()
        } else {
            // postgres-nio asserts that a connection is closed before it is deinitialized: the callback keeps this
            // one alive until its close has completed.
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }
}
