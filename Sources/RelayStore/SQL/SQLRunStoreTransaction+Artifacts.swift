import RelayCore

/// Artifacts (table `artifacts`: a row per document an `artifact` step made, unique by job id) and global artifacts
/// (table `global_artifacts`: a row per entry, numbered from 1 within its name). The reads also serve
/// `SQLRunStore`'s readers, which may open a file written before these tables existed: there, nothing.
extension SQLRunStoreTransaction {
    func addArtifact(_ artifact: RunArtifact) throws {
        let bytes = artifact.content.utf8.count
        guard bytes <= ArtifactLimits.maximumContentBytes else {
            throw RelayError(
                .invalidValue,
                "artifact \"\(artifact.name)\" of step \(artifact.stepID): its content is \(bytes) bytes, more than "
                    + "the \(ArtifactLimits.maximumContentBytes) bytes (1 MiB) an artifact may hold")
        }
        try db.query(
            """
            INSERT INTO artifacts (run_id, step_id, job_id, name, format, content, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(artifact.runID), .text(artifact.stepID), .text(artifact.jobID), .text(artifact.name),
                .text(artifact.format.rawValue), .text(artifact.content), .double(artifact.createdAt),
            ])
    }

    func artifacts(runID: String) throws -> [RunArtifact] {
        guard try SQLRunStore.hasTable(db, "artifacts") else { return [] }
        return try db.query(
            """
            SELECT run_id, step_id, job_id, name, format, content, created_at FROM artifacts WHERE run_id = ?
            ORDER BY id
            """, [.text(runID)]
        ).map { row in
            // A format this version does not know (a later version's, or a hand edit) reads as text.
            RunArtifact(
                runID: row[0].text ?? "", stepID: row[1].text ?? "", jobID: row[2].text ?? "",
                name: row[3].text ?? "", format: row[4].text.flatMap(RunArtifact.Format.init(rawValue:)) ?? .text,
                content: row[5].text ?? "", createdAt: SQLRunStore.double(row[6]) ?? 0)
        }
    }

    func appendGlobalArtifact(name: String, entry: JSONValue, runID: String, stepID: String) throws -> Int {
        let json = JSONWriter.compact.string(entry)
        guard json.utf8.count <= ArtifactLimits.maximumEntryBytes else {
            throw RelayError(
                .invalidValue,
                "global artifact \"\(name)\": the entry is \(json.utf8.count) bytes of JSON, more than the "
                    + "\(ArtifactLimits.maximumEntryBytes) bytes (64 KiB) an entry may hold")
        }
        let totals = try db.query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(\(db.dialect.byteLength("entry"))), 0) AS BIGINT) "
                + "FROM global_artifacts "
                + "WHERE name = ?",
            [.text(name)]
        ).first
        let count = Int(totals?[0].int ?? 0)
        let bytes = Int(totals?[1].int ?? 0)
        guard count < ArtifactLimits.maximumEntries else {
            throw RelayError(
                .invalidValue,
                "global artifact \"\(name)\" has \(count) entries, the most a global artifact may hold "
                    + "(\(ArtifactLimits.maximumEntries)): the entry was not appended")
        }
        guard bytes + json.utf8.count <= ArtifactLimits.maximumTotalBytes else {
            throw RelayError(
                .invalidValue,
                "global artifact \"\(name)\" holds \(bytes) bytes of entries; with this one (\(json.utf8.count) bytes) "
                    + "it would hold more than the \(ArtifactLimits.maximumTotalBytes) bytes (16 MiB) a global "
                    + "artifact may hold: the entry was not appended")
        }
        try db.query(
            """
            INSERT INTO global_artifacts (name, position, entry, run_id, step_id, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            [
                .text(name), .int(Int64(count + 1)), .text(json), .text(runID), .text(stepID),
                .double(RunTime.now()),
            ])
        return count + 1
    }

    func globalArtifactEntries(name: String) throws -> [JSONValue] {
        guard try SQLRunStore.hasTable(db, "global_artifacts") else { return [] }
        return try db.query(
            "SELECT entry FROM global_artifacts WHERE name = ? ORDER BY position", [.text(name)]
        ).map { SQLRunStore.json($0[0]) ?? .null }
    }

    /// Every global artifact, by name.
    func globalArtifactSummaries() throws -> [GlobalArtifactSummary] {
        guard try SQLRunStore.hasTable(db, "global_artifacts") else { return [] }
        return try db.query(
            "SELECT name, COUNT(*), MAX(created_at) FROM global_artifacts GROUP BY name ORDER BY name"
        ).map {
            GlobalArtifactSummary(
                name: $0[0].text ?? "", entries: Int($0[1].int ?? 0), updatedAt: SQLRunStore.double($0[2]) ?? 0)
        }
    }
}
