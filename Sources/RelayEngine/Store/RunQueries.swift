import Foundation
import RelayCore
import RelayTransport

/// Reading runs for people and tools (`relay runs list|show`).
public struct RunQueries: Sendable {
    public let database: SQLiteDatabase

    public init(database: SQLiteDatabase) { self.database = database }

    public struct RunSummary: Sendable {
        public var id: String
        public var workflow: String
        public var status: String
        public var startedAt: Double
        public var finishedAt: Double?
        public var error: String?

        public var json: JSONValue {
            [
                "id": .string(id), "workflow": .string(workflow), "status": .string(status),
                "started": .string(RunQueries.time(startedAt)),
                "finished": finishedAt.map { .string(RunQueries.time($0)) } ?? .null,
                "error": error.map(JSONValue.string) ?? .null,
            ]
        }
    }

    public func list(limit: Int = 50) async throws -> [RunSummary] {
        try await database.read { db in
            try db.query(
                "SELECT id, workflow, status, started_at, finished_at, error FROM runs ORDER BY started_at "
                    + "DESC LIMIT ?",
                [.int(Int64(limit))])
        }.map(Self.summaryRow)
    }

    static func summaryRow(_ row: [SQLiteConnection.Value]) -> RunSummary {
        func double(_ value: SQLiteConnection.Value) -> Double? {
            switch value {
            case .double(let d): return d
            case .int(let i): return Double(i)
            default: return nil
            }
        }
        return RunSummary(
            id: row[0].text ?? "", workflow: row[1].text ?? "", status: row[2].text ?? "",
            startedAt: double(row[3]) ?? 0, finishedAt: double(row[4]), error: row[5].text)
    }

    /// One run's summary, or nil.
    public func run(_ id: String) async throws -> RunSummary? {
        try await database.read { db in
            try db.query(
                "SELECT id, workflow, status, started_at, finished_at, error FROM runs WHERE id = ?", [.text(id)]
            ).first
        }.map(Self.summaryRow)
    }

    /// The run and each step attempt, or nil.
    public func show(_ id: String) async throws -> JSONValue? {
        try await database.read { db -> JSONValue? in
            guard
                let run = try db.query(
                    "SELECT id, workflow, status, started_at, finished_at, error, trigger_event FROM runs WHERE id = ?",
                    [.text(id)]
                ).first
            else { return nil }
            var result = RunQueries.summaryRow(run).json.objectValue ?? [:]
            result["trigger_event"] = run[6].text.flatMap { try? JSONParser.parse($0) } ?? .null
            var steps: [JSONValue] = []
            for row in try db.query(
                """
                SELECT step_id, attempt, status, input, output, error, exception, scheduled_at, started_at, finished_at
                FROM steps WHERE run_id = ? ORDER BY scheduled_at, attempt
                """, [.text(id)])
            {
                var step: JSONObject = [
                    "step": .string(row[0].text ?? ""), "attempt": .int(Int(row[1].int ?? 0)),
                    "status": .string(row[2].text ?? ""),
                ]
                step["input"] = row[3].text.flatMap { try? JSONParser.parse($0) } ?? .null
                step["output"] = row[4].text.flatMap { try? JSONParser.parse($0) } ?? .null
                step["error"] = row[5].text.map(JSONValue.string) ?? .null
                step["exception"] = row[6].text.flatMap { try? JSONParser.parse($0) } ?? .null
                let started: Double? = {
                    if case .double(let d) = row[8] { return d }
                    return nil
                }()
                let finished: Double? = {
                    if case .double(let d) = row[9] { return d }
                    return nil
                }()
                step["duration_ms"] =
                    (started != nil && finished != nil) ? RunQueries.milliseconds(finished! - started!) : .null
                steps.append(.object(step))
            }
            result["steps"] = .array(steps)
            return .object(result)
        }
    }

    public func summary(_ id: String) async throws -> String {
        guard let run = try await show(id) else { return "run \(id): not found" }
        let steps = run["steps"]?.arrayValue ?? []
        var counts: [String: Int] = [:]
        var latest: [String: String] = [:]
        for step in steps { latest[step["step"]?.stringValue ?? ""] = step["status"]?.stringValue ?? "" }
        for status in latest.values { counts[status, default: 0] += 1 }
        let detail = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let summary = try await self.run(id)
        let duration =
            summary.flatMap { r in r.finishedAt.map { RunQueries.milliseconds($0 - r.startedAt).intValue ?? 0 } }.map {
                "\($0) ms"
            } ?? "?"
        var line =
            "run \(id) \(run["workflow"]?.stringValue ?? "") \(run["status"]?.stringValue ?? "") in "
            + "\(duration) (\(latest.count) steps: \(detail))"
        if let error = run["error"]?.stringValue { line += ": \(error)" }
        return line
    }

    static func time(_ seconds: Double) -> String {
        ISO8601DateFormatter.string(
            from: Date(timeIntervalSince1970: seconds), timeZone: TimeZone(identifier: "UTC")!,
            formatOptions: [.withInternetDateTime, .withFractionalSeconds])
    }

    /// Seconds as whole milliseconds, or null where the stored times cannot give one (never a trap).
    static func milliseconds(_ seconds: Double) -> JSONValue {
        let value = (seconds * 1000).rounded(.towardZero)
        return Int(exactly: value).map(JSONValue.int) ?? .null
    }
}
