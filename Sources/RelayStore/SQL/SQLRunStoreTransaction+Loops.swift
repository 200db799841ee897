import RelayCore

extension SQLRunStoreTransaction {
    func skipPendingItems(runID: String, stepID: String, reason: String) throws -> Int {
        // (Without kept items, counted first; with them, the update's own count, which the kept items must match.)
        let counted: Int? =
            try keptItems(of: runID) != nil
            ? nil
            : Int(
                try db.query(
                    "SELECT COUNT(*) FROM step_items WHERE run_id = ? AND step_id = ? AND status = ?",
                    [.text(runID), .text(stepID), .text(ItemStatus.pending.rawValue)]
                ).first?[0].int ?? 0)
        try db.query(
            "UPDATE step_items SET status = ?, error = ?, finished_at = ? "
                + "WHERE run_id = ? AND step_id = ? AND status = ?",
            [
                .text(ItemStatus.skipped.rawValue), .text(reason), .double(RunTime.now()), .text(runID), .text(stepID),
                .text(ItemStatus.pending.rawValue),
            ])
        let changed = db.changes
        itemRows?.follow(runID, changed: changed) { $0.endPending(stepID: stepID, status: .skipped, error: reason) }
        return counted ?? changed
    }
}
