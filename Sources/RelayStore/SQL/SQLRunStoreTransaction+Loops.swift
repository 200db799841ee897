import RelayCore

extension SQLRunStoreTransaction {
    func skipPendingItems(runID: String, stepID: String, reason: String) throws -> Int {
        if try keptItems(of: runID) != nil {
            let skipped = itemRows?.update(runID) { $0.endPending(stepID: stepID, status: .skipped, error: reason) }
            try db.query(
                "UPDATE step_items SET status = ?, error = ?, finished_at = ? "
                    + "WHERE run_id = ? AND step_id = ? AND status = ?",
                [
                    .text(ItemStatus.skipped.rawValue), .text(reason), .double(RunTime.now()), .text(runID),
                    .text(stepID), .text(ItemStatus.pending.rawValue),
                ])
            if skipped != db.changes { itemRows?.forget(runID) }
            return db.changes
        }
        let pending =
            try db.query(
                "SELECT COUNT(*) FROM step_items WHERE run_id = ? AND step_id = ? AND status = ?",
                [.text(runID), .text(stepID), .text(ItemStatus.pending.rawValue)]
            ).first?[0].int ?? 0
        try db.query(
            "UPDATE step_items SET status = ?, error = ?, finished_at = ? "
                + "WHERE run_id = ? AND step_id = ? AND status = ?",
            [
                .text(ItemStatus.skipped.rawValue), .text(reason), .double(RunTime.now()), .text(runID), .text(stepID),
                .text(ItemStatus.pending.rawValue),
            ])
        return Int(pending)
    }
}
