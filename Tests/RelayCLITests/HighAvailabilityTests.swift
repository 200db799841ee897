import Foundation
import RelayCore
import RelayEngine
import RelayPostgres
import RelayTestSupport
import RelayTransport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// No single point of failure (docs/ha.md): two `relay dispatcher`s sharing a PostgreSQL run store, two
/// `relay triggers` (webhooks on both, a timer ticking every second on one of them) and three `relay worker`s on the
/// test broker. Midway one dispatcher and the trigger host that runs the timer are killed with SIGKILL, and the
/// dispatcher is started again later. Every accepted webhook gives exactly one run, every timer tick at most one run
/// with no gap longer than the failover, every run finishes, and the outputs are those of an undisturbed run.
@Suite(
    .serialized,
    .enabled(if: KafkaKill.broker != nil, "no test broker: set RELAY_TEST_KAFKA_BROKERS (scripts/test starts one)"),
    .enabled(if: TestPostgres.url != nil, "no PostgreSQL: set RELAY_TEST_POSTGRES_URL (scripts/test starts one)"))
struct HighAvailabilityTests {
    static let timer = """
        name: tick
        trigger: {plugin: timer, trigger: interval, input: {seconds: 1, fire_immediately: true}}
        steps:
          - {id: encode, plugin: base64, action: encode, input: {content: "tick {{ trigger.count }}"}}
        """

    @Test func twoOfEverythingSurviveKillingADispatcherAndTheTimersTriggerHost() async throws {
        try await TestPostgres.withDatabase(connections: 2) { database, url in
            let cluster = try DistributedPipelineTests.Cluster(
                workflows: ["dist": DistributedPipelineTests.workflow, "tick": Self.timer])
            let token = "relay_high-availability-test"
            cluster.extraEnvironment = ["RELAY_STORE_URL": url, "RELAY_API_TOKEN": token]
            defer {
                for process in cluster.processes.values where process.isRunning {
                    Foundation.kill(process.processIdentifier, SIGKILL)
                }
                for name in cluster.processes.keys.sorted() {
                    let log = cluster.log(name)
                    if !log.isEmpty { print("--- \(name).log (last 20000 characters)\n\(log.suffix(20000))") }
                }
                try? FileManager.default.removeItem(at: cluster.directory)
            }
            let ports = [cluster.port, try LoopbackPort.free()]
            for (index, port) in ports.enumerated() {
                try cluster.start("triggers\(index + 1)", ["triggers", "--port", String(port)])
            }
            try cluster.start("dispatcher1", ["dispatcher"])
            let apiPort = try LoopbackPort.free()
            try cluster.start("dispatcher2", ["dispatcher", "--port", String(apiPort)])
            for index in 1...3 { try cluster.start("worker\(index)", ["worker", "--concurrency", "4"]) }
            for port in ports {
                #expect(
                    await waitFor { (try? await DistributedPipelineTests.Cluster.post(-1, port: port)) == 202 },
                    "trigger host on \(port) takes webhooks")
            }
            let store = SQLRunStoreReader(database: database)
            // The timer runs on one host: the one whose log says it started it last and has not released it since.
            var owner = ""
            #expect(
                await waitFor {
                    let running = ["triggers1", "triggers2"].filter { Self.runsTheTimer(cluster.log($0)) }
                    owner = running.first ?? ""
                    return running.count == 1
                }, "one trigger host runs the timer")
            let survivor = owner == "triggers1" ? "triggers2" : "triggers1"
            let survivorPort = owner == "triggers1" ? ports[1] : ports[0]

            // Webhooks to both hosts, as a load balancer would send them, each with an Idempotency-Key; one that
            // fails (its host was killed, perhaps after publishing it) is sent again to the other host with the same
            // key. Every webhook answered 202 is accepted.
            let total = 600
            let accepted = Collected<Int>()
            let posting = Task {
                for n in 0..<total {
                    let key = "webhook-\(n)"
                    var status =
                        (try? await DistributedPipelineTests.Cluster.post(n, port: ports[n % 2], key: key)) ?? 0
                    if status != 202 {
                        status = try await DistributedPipelineTests.Cluster.post(n, port: survivorPort, key: key)
                    }
                    if status == 202 { await accepted.append(n) }
                }
            }
            #expect(await waitFor { (try? await store.finishedWebhooks()) ?? 0 >= total / 4 })
            let ticksBefore = try await store.finished(workflow: "tick")
            cluster.kill("dispatcher1")
            cluster.kill(owner)
            let killedAt = Date().timeIntervalSince1970
            #expect(
                await waitFor(seconds: 120) { (try? await store.finishedWebhooks()) ?? 0 >= total / 2 },
                "the other dispatcher carries on")
            try cluster.start("dispatcher1", ["dispatcher"])
            try await posting.value
            let posted = await accepted.items
            #expect(posted.count == total, "every webhook was accepted by one host or the other")
            #expect(
                await waitFor(seconds: 240) {
                    (try? await store.finishedWebhooks()) ?? 0 >= posted.count
                }, "every webhook's run finishes")
            // The timer goes on on the surviving host: ticks after the failover.
            #expect(
                await waitFor(seconds: 120) {
                    (try? await store.tickTimes().last).map { $0 > killedAt + 3 } ?? false
                }, "the timer ticks again after its host died")
            #expect(try await store.finished(workflow: "tick") > ticksBefore)
            // The operator's API of a dispatcher reads the shared store: every webhook's run is there, whichever
            // dispatcher decided it, with its steps.
            let listed = try await Self.api("/api/v1/runs?workflow=dist&limit=200", port: apiPort, token: token)
            let runs = listed["runs"]?.arrayValue ?? []
            #expect(runs.count == 200 && runs.allSatisfy { $0["status"] == "succeeded" }, "\(runs.prefix(3))")
            if let id = runs.first?["id"]?.stringValue {
                let run = try await Self.api("/api/v1/runs/\(id)", port: apiPort, token: token)
                #expect(run["steps"]?.arrayValue?.filter { $0["status"] == "succeeded" }.count == 3, "\(run)")
            }
            // The trigger host stops first (no new tick), then the runs it started finish, then the rest stops.
            cluster.processes[survivor]?.terminate()
            cluster.processes[survivor]?.waitUntilExit()
            #expect(
                await waitFor(seconds: 120) { (try? await store.unfinished(workflow: "tick")) == 0 },
                "every tick's run finishes")
            let statuses = await cluster.stopAll()
            #expect(
                statuses.filter { $0.key != owner }.allSatisfy { $0.value == "exit 0" },
                "SIGTERM: drain, exit 0: \(statuses)")
            #expect(Self.runsTheTimer(cluster.log(survivor)), "the timer moved to \(survivor)")

            // Exactly one run per accepted webhook, each succeeded, each step done once.
            let counts = try await store.webhookRuns()
            #expect(counts.runs == posted.count, "one run per accepted webhook")
            #expect(counts.distinctEvents == posted.count)
            #expect(counts.failed == 0)
            #expect(counts.completions == posted.count * 3, "every step of every run completed once")
            var mismatches = 0
            for (n, output) in try await store.splitOutputs()
            where output != (try await DistributedPipelineTests.expected(n)) {
                mismatches += 1
            }
            #expect(mismatches == 0, "outputs are those of an undisturbed run")

            // Timer: one run per tick (the event id is the tick: a tick fired again after the failover is a no-op),
            // every run finished, and no gap between ticks longer than the failover window.
            let ticks = try await store.tickTimes()
            #expect(Set(ticks).count == ticks.count, "at most one run per tick")
            #expect(try await store.unfinished(workflow: "tick") == 0)
            let gaps = zip(ticks, ticks.dropFirst()).map { $1 - $0 }
            let longest = gaps.max() ?? 0
            // The failover window: the longest a tick waited for its run (the new owner fires the ticks its dead
            // host missed, late, once each).
            let waited = try await store.tickDelays().max() ?? 0
            print(
                "timer: \(ticks.count) ticks, the longest gap between ticks \(longest) s, the longest a tick waited "
                    + "for its run \(String(format: "%.1f", waited)) s (the failover window)")
            #expect(longest <= 30, "the timer's longest gap (\(longest) s) is within the failover window")
            #expect(waited <= 30, "a tick waited \(waited) s for its run: longer than the failover window")
        }
    }
}

extension HighAvailabilityTests {
    /// A GET of the operator's API with `token`; the answer's JSON.
    static func api(_ path: String, port: Int, token: String) async throws -> JSONValue {
        var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(path)")
        return try JSONParser.parse(bytes: Array(data))
    }

    /// Whether a trigger host's log says it runs the timer now: it started the instance ("trigger instance ID
    /// started (timer/interval)") and has not stopped it since.
    static func runsTheTimer(_ log: String) -> Bool {
        let lines = log.split(separator: "\n")
        guard let start = lines.lastIndex(where: { $0.contains("started (timer/interval)") }),
            let range = lines[start].range(of: "trigger instance "),
            let id = lines[start][range.upperBound...].split(separator: " ").first
        else { return false }
        return !lines[start...].contains { $0.contains("trigger instance \(id) stopped") }
    }

    /// A tick's time from the timer's event id (`instance@2026-12-04T19:00:00Z`).
    static func tick(_ eventID: String) -> Double? {
        guard let position = eventID.split(separator: "@").last else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: String(position)) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: String(position))?.timeIntervalSince1970
    }
}

/// The reads of the test, on the shared store.
struct SQLRunStoreReader {
    let database: PostgresDatabase

    func finished(workflow: String) async throws -> Int {
        try await database.readSession { db in
            Int(
                try db.query(
                    "SELECT COUNT(*) FROM runs WHERE workflow = ? AND status != 'running'", [.text(workflow)]
                ).first?[0].int ?? 0)
        }
    }

    /// The runs of the webhooks the test posted (n ≥ 0; the readiness probes post n = -1) that have finished.
    func finishedWebhooks() async throws -> Int {
        try await database.readSession { db in
            Int(
                try db.query(
                    "SELECT COUNT(*) FROM runs WHERE workflow = 'dist' AND status != 'running' AND \(Self.posted)"
                ).first?[0].int ?? 0)
        }
    }

    /// The test's own webhooks: n ≥ 0 in the trigger event.
    static let posted = "(trigger_event::json #>> '{json,n}')::int >= 0"

    func unfinished(workflow: String) async throws -> Int {
        try await database.readSession { db in
            Int(
                try db.query("SELECT COUNT(*) FROM runs WHERE workflow = ? AND status = 'running'", [.text(workflow)])
                    .first?[0].int ?? 0)
        }
    }

    /// The ticks the timer's runs are for (its event ids are `instance@tick`), as seconds since 1970, in order.
    func tickTimes() async throws -> [Double] {
        try await database.readSession { db in
            try db.query("SELECT event_id FROM runs WHERE workflow = 'tick'").compactMap {
                $0[0].text.flatMap(HighAvailabilityTests.tick)
            }.sorted()
        }
    }

    /// For each tick, how long after it its run started.
    func tickDelays() async throws -> [Double] {
        try await database.readSession { db in
            try db.query("SELECT event_id, started_at FROM runs WHERE workflow = 'tick'").compactMap { row in
                guard let tick = row[0].text.flatMap(HighAvailabilityTests.tick), case .double(let started) = row[1]
                else { return nil }
                return started - tick
            }
        }
    }

    func webhookRuns() async throws -> (runs: Int, distinctEvents: Int, failed: Int, completions: Int) {
        try await database.readSession { db in
            let row = try db.query(
                """
                SELECT COUNT(*), COUNT(DISTINCT trigger_event::json #>> '{json,n}'),
                    COUNT(*) FILTER (WHERE status != 'succeeded') FROM runs WHERE workflow = 'dist' AND \(Self.posted)
                """
            ).first
            let completions =
                try db.query(
                    """
                    SELECT COUNT(*) FROM steps s JOIN runs r ON r.id = s.run_id
                    WHERE r.workflow = 'dist' AND s.status = 'succeeded' AND \(Self.posted)
                    """
                ).first?[0].int ?? 0
            return (
                Int(row?[0].int ?? 0), Int(row?[1].int ?? 0), Int(row?[2].int ?? 0), Int(completions)
            )
        }
    }

    /// Each webhook run's n and its last step's output.
    func splitOutputs() async throws -> [(Int, JSONValue)] {
        try await database.readSession { db in
            try db.query(
                "SELECT r.trigger_event, s.output FROM runs r JOIN steps s ON s.run_id = r.id WHERE s.step_id = 'split'"
            ).compactMap { row in
                guard let event = try? JSONParser.parse(row[0].text ?? ""), let n = event["json"]?["n"]?.intValue,
                    n >= 0, let output = try? JSONParser.parse(row[1].text ?? "")
                else { return nil }
                return (n, output)
            }
        }
    }
}
