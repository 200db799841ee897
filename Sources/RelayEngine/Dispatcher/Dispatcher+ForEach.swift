import RelayCore
import RelayStore
import RelayTransport

/// `for_each` steps: the step runs once per item of the array its `for_each` renders to, at most `concurrency` at
/// a time, and ends when every item has ended; its output is the array of the items' outputs, in item order.
///
/// The step has one attempt in the run store (running while its items run); each item is recorded apart, pending
/// until a slot is free, with a job id of its own (`runId/stepId[index]/attempt`). Which items run, and whether the
/// step has ended, is read from the store in the decision's transaction, so a redelivered result or a restart
/// between decisions never starts an item twice. Retries apply per item; a failed item fails the step and the run
/// unless the step may continue on failure, in which case its slot in the output is null.
extension Dispatcher {
    /// Where a `for_each` step stands after a decision, and what the decision publishes.
    struct ForEachProgress {
        enum State {
            /// Items are pending or running.
            case running
            /// Every item has ended (or the step failed before any started, and may continue): the step's record.
            case ended(StepAttemptRecord)
            /// The step failed and failed the run with it.
            case failedRun
        }

        var progress: [Progress]
        var state: State
    }

    /// Starts a `for_each` step: renders its array, records the step and its items, and starts the first items.
    func startForEach(runID: String, workflow: Workflow, step: WorkflowStep, in tx: any RunStoreTransaction) throws
        -> ForEachProgress
    {
        let scope = try self.scope(runID: runID, workflow: workflow, in: tx)
        let items: [JSONValue]
        do {
            items = try Self.items(of: step, scope: scope)
        } catch {
            return try failStep(
                runID: runID, workflow: workflow, step: step, error: error.message, recorded: false, in: tx)
        }
        try tx.addStep(
            StepAttemptRecord(
                jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1), runID: runID, stepID: step.id,
                attempt: 1, status: .running))
        // The first `concurrency` items' jobs go out now: their rows are written started (not pending, then
        // started). An item whose input cannot be rendered, and a sub-workflow's items, are left to `fillItems`.
        var jobs: [ActionJob] = []
        if step.workflow == nil {
            for (index, item) in items.prefix(step.concurrency).enumerated() {
                let itemScope = Self.scope(scope, item: item, index: index)
                guard
                    let job = try? self.job(
                        runID: runID, workflow: workflow, step: step, attempt: 1, scope: itemScope, item: index)
                else { break }
                try tx.addDeadline(deadline(for: job), startingAt: RunTime.now())
                jobs.append(job)
            }
        }
        let written = try tx.addItems(runID: runID, stepID: step.id, items: items, started: jobs.map(\.input))
        // (Fewer only if the step had items already, which its first start never has: those keep their own state.)
        jobs.removeAll { job in job.route.item.map { !written.contains($0) } ?? true }
        let started = ForEachProgress(progress: jobs.map(Progress.job), state: .running)
        guard !jobs.isEmpty, jobs.count == min(items.count, step.concurrency) else {
            var filled = try fillItems(runID: runID, workflow: workflow, step: step, scope: scope, in: tx)
            filled.progress = started.progress + filled.progress
            return filled
        }
        return started
    }

    /// The scope one item renders in: its step's, with the item and its index.
    static func scope(_ scope: Template.Scope, item: JSONValue, index: Int) -> Template.Scope {
        var itemScope = scope
        itemScope.item = item
        itemScope.index = index
        return itemScope
    }

    /// The array a step's `for_each` renders to, or why it is not one.
    static func items(of step: WorkflowStep, scope: Template.Scope) throws(TemplateError) -> [JSONValue] {
        let rendered = try Template.render(.string(step.forEach ?? ""), scope: scope)
        guard case .array(let items) = rendered else {
            let text = JSONWriter.compact.string(rendered)
            let shown = text.count > 120 ? text.prefix(120) + "…" : text
            let what = rendered == .null ? "null" : "the \(rendered.typeName) \(shown)"
            throw TemplateError(message: "for_each \(step.forEach ?? "") rendered to \(what), expected an array")
        }
        guard items.count <= WorkflowLimits.mostItems else {
            throw TemplateError(
                message: "for_each \(step.forEach ?? "") rendered to \(items.count) items; a step runs over at most "
                    + "\(WorkflowLimits.mostItems)")
        }
        return items
    }

    /// Starts pending items while fewer than `concurrency` run; when none is pending or running, ends the step with
    /// the items' outputs. An item whose input cannot be rendered has failed (it never reaches a worker).
    func fillItems(
        runID: String, workflow: Workflow, step: WorkflowStep, scope: Template.Scope, in tx: any RunStoreTransaction
    ) throws -> ForEachProgress {
        var progress: [Progress] = []
        var slots: ItemSlots
        var started = false
        var slotLeftFree = false
        repeat {
            slots = try tx.itemsToStart(runID: runID, stepID: step.id, concurrency: step.concurrency)
            slotLeftFree = false
            for item in slots.next {
                let itemScope = Self.scope(scope, item: item.item, index: item.index)
                do {
                    if step.workflow != nil {
                        // A sub-workflow per item: the item's child run starts now.
                        let input = try Self.input(of: step, scope: itemScope)
                        try tx.startItem(jobID: item.jobID, input: input)
                        started = true
                        progress += try startChild(
                            parent: RunParent(runID: runID, stepID: step.id, jobID: item.jobID), step: step,
                            input: input, in: tx)
                        continue
                    }
                    let job = try self.job(
                        runID: runID, workflow: workflow, step: step, attempt: item.attempt, scope: itemScope,
                        item: item.index)
                    // (The deadline first: the item's row takes it as the item starts.)
                    try tx.addDeadline(deadline(for: job), startingAt: RunTime.now())
                    try tx.startItem(jobID: item.jobID, input: job.input)
                    progress.append(.job(job))
                    started = true
                } catch let error as TemplateError {
                    let message = "input could not be rendered: \(error.message)"
                    try tx.finishItem(jobID: item.jobID, result: .failure(message), startedAt: nil)
                    slotLeftFree = true
                    if !step.continueOnFailure {
                        // Items started before this in the same decision still go out; their results start nothing.
                        var failed = try failStep(
                            runID: runID, workflow: workflow, step: step, error: "item \(item.index): \(message)",
                            recorded: true, in: tx)
                        failed.progress = progress + failed.progress
                        return failed
                    }
                }
            }
            // (Slots an item that could not be rendered left free are filled by the next round.)
        } while slotLeftFree && slots.morePending
        guard !slots.morePending, !slots.anyRunning, !started else {
            return ForEachProgress(progress: progress, state: .running)
        }
        let outputs = try tx.latestItems(runID: runID, stepID: step.id).map { item in
            item.status == .succeeded ? item.output ?? .null : .null
        }
        let jobID = JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1)
        try tx.finishStep(jobID: jobID, result: .success(.array(outputs)), startedAt: nil)
        let record = StepAttemptRecord(
            jobID: jobID, runID: runID, stepID: step.id, attempt: 1, status: .succeeded)
        return ForEachProgress(progress: progress, state: .ended(record))
    }

    /// Records the step as failed with `error` (`recorded`: its running attempt exists; otherwise it is added
    /// unless it exists, as for a step resumed), and fails the run unless the step may continue on failure.
    private func failStep(
        runID: String, workflow: Workflow, step: WorkflowStep, error: String, recorded: Bool,
        in tx: any RunStoreTransaction
    ) throws -> ForEachProgress {
        let jobID = JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1)
        let record = StepAttemptRecord(
            jobID: jobID, runID: runID, stepID: step.id, attempt: 1, status: .failed, error: error)
        if try recorded || tx.step(jobID: jobID) != nil {
            try tx.finishStep(jobID: jobID, result: .failure(error), startedAt: nil)
        } else {
            try tx.addStep(record)
        }
        if step.continueOnFailure { return ForEachProgress(progress: [], state: .ended(record)) }
        let ended = try end(
            runID: runID, workflow: workflow, status: .failed, error: "step \(step.id) failed: \(error)", in: tx)
        return ForEachProgress(progress: ended, state: .failedRun)
    }

    /// A result of one item: recorded; then a retry of the item, the step's failure, or the next items (and, once
    /// every item has ended, what follows the step).
    func applyItemResult(
        _ event: StepEvent, jobID: String, startedAt: Double?, finishedAt: Double? = nil, leftLoopAt: String? = nil,
        workflow: Workflow, in tx: any RunStoreTransaction
    ) throws -> Outcome {
        guard
            let item = try tx.finishRunningItem(
                jobID: jobID, result: event, startedAt: startedAt, finishedAt: finishedAt)
        else {
            guard try tx.item(jobID: jobID) != nil else {
                throw PoisonMessage(
                    reason: "result of job \(jobID): no such item in the run store (the run is unknown here)")
            }
            // A result already recorded (redelivered) changes nothing; one after the item's deadline failed it is
            // recorded beside the item and changes nothing either.
            return try tx.recordLateResult(jobID: jobID, result: event) ? Outcome(lateResults: 1) : Outcome()
        }
        // A result for a run that has ended, or a step that has (another item failed it), starts nothing. (The run
        // and its attempts as this transaction keeps them: `applyResult` read the run.)
        guard try tx.runRecord(id: item.runID)?.status == .running,
            let step = workflow.step(item.stepID), step.forEach != nil,
            try tx.step(jobID: JobRoute.jobID(runID: item.runID, stepID: step.id, attempt: 1), runID: item.runID)?
                .status == .running
        else { return Outcome() }
        let scope = try self.scope(runID: item.runID, workflow: workflow, in: tx)
        var outcome = Outcome()
        if event.status != .ok {
            let itemScope = Self.scope(scope, item: item.item, index: item.index)
            if item.attempt < step.retry.attempts, step.workflow != nil,
                let input = try? Self.input(of: step, scope: itemScope)
            {
                // A sub-workflow item's retry: a new child run once the backoff has passed; it holds the slot.
                let retry = ItemAttemptRecord(
                    jobID: JobRoute.jobID(
                        runID: item.runID, stepID: step.id, item: item.index, attempt: item.attempt + 1),
                    runID: item.runID, stepID: step.id, index: item.index, attempt: item.attempt + 1, status: .running,
                    item: item.item, input: input)
                try tx.addItemAttempt(retry)
                try scheduleChildRetry(jobID: retry.jobID, runID: item.runID, of: step, after: item.attempt, in: tx)
                return outcome
            }
            if item.attempt < step.retry.attempts, step.workflow == nil,
                let job = try? self.job(
                    runID: item.runID, workflow: workflow, step: step, attempt: item.attempt + 1, scope: itemScope,
                    item: item.index)
            {
                // The retry holds the item's slot while it waits for its backoff.
                try tx.addItemAttempt(
                    ItemAttemptRecord(
                        jobID: job.route.jobID, runID: item.runID, stepID: step.id, index: item.index,
                        attempt: item.attempt + 1, status: .running, item: item.item, input: job.input))
                try scheduleRetry(job, of: step, after: item.attempt, in: tx)
                return outcome
            }
            if !step.continueOnFailure {
                let failed = try failStep(
                    runID: item.runID, workflow: workflow, step: step,
                    error: "item \(item.index) failed: \(event.error ?? "")", recorded: true, in: tx)
                outcome.add(failed.progress)
                return outcome
            }
        }
        if event.status == .ok, let leftAt = leftLoopAt {
            // The item's sub-workflow run ended at a `break`: the loop starts no further items.
            let skipped = try tx.skipPendingItems(
                runID: item.runID, stepID: step.id, reason: "not run: item \(item.index) left the loop at \(leftAt)")
            logger.info(
                "item \(item.index) left the loop at \(leftAt); \(skipped) items not run",
                metadata: ["run.id": "\(item.runID)", "step.id": "\(step.id)"])
        }
        let filled = try fillItems(runID: item.runID, workflow: workflow, step: step, scope: scope, in: tx)
        outcome.add(filled.progress)
        if case .ended = filled.state { outcome.add(try advance(runID: item.runID, workflow: workflow, in: tx)) }
        return outcome
    }
}
