import RelayCore
import RelayTransport

/// The reads of the operator's API: runs by filter a page at a time, counts by workflow, versions, and the log of
/// changes (`SQLRunStore+Changes`).
extension SQLRunStore {
    public func runs(matching query: RunQuery) async throws -> RunPage {
        let limit = min(max(query.limit, 1), RunQuery.largestPage)
        return try await database.readSession { db in
            var conditions: [String] = []
            var values: [SQLValue] = []
            if let workflow = query.workflow {
                conditions.append("workflow = ?")
                values.append(.text(workflow))
            }
            if let status = query.status {
                conditions.append("status = ?")
                values.append(.text(status.rawValue))
            }
            if let since = query.since {
                conditions.append("started_at >= ?")
                values.append(.double(since))
            }
            if let until = query.until {
                conditions.append("started_at <= ?")
                values.append(.double(until))
            }
            // The process that serves the API writes the store: every column is there.
            let columns = Self.summaryColumns.joined(separator: ", ")
            if let parent = query.parent {
                conditions.append("parent_run_id = ?")
                values.append(.text(parent))
            } else if query.topLevelOnly {
                conditions.append("parent_run_id IS NULL")
            }
            if let cursor = query.cursor {
                conditions.append("(started_at < ? OR (started_at = ? AND id < ?))")
                values += [.double(cursor.startedAt), .double(cursor.startedAt), .text(cursor.runID)]
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            // One more than the page: whether there is a next page.
            let rows = try db.query(
                "SELECT \(columns) FROM runs \(filter) ORDER BY started_at DESC, id DESC LIMIT ?",
                values + [.int(Int64(limit + 1))])
            let runs = rows.prefix(limit).map(Self.summary)
            let next = rows.count > limit ? runs.last.map { RunCursor(startedAt: $0.startedAt, runID: $0.id) } : nil
            return RunPage(runs: Array(runs), nextCursor: next)
        }
    }

    public func runCounts(workflow: String, since: Double) async throws -> [RunStatus: Int] {
        try await database.readSession { db in
            var counts: [RunStatus: Int] = [:]
            for row in try db.query(
                "SELECT status, COUNT(*) FROM runs WHERE workflow = ? AND started_at >= ? GROUP BY status",
                [.text(workflow), .double(since)])
            {
                counts[Self.runStatus(row[0]), default: 0] += Int(row[1].int ?? 0)
            }
            return counts
        }
    }

    public func workflowVersions(name: String, limit: Int) async throws -> [WorkflowVersionSummary] {
        try await database.readSession { db in
            try db.query(
                """
                SELECT hash, file, created_at FROM workflow_versions WHERE name = ?
                ORDER BY created_at DESC, hash LIMIT ?
                """,
                [.text(name), .int(Int64(max(1, limit)))]
            ).map {
                WorkflowVersionSummary(
                    hash: $0[0].text ?? "", file: $0[1].text ?? "", firstSeen: Self.double($0[2]) ?? 0)
            }
        }
    }
}
