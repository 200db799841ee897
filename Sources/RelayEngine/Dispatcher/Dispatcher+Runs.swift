import Logging
import RelayCore
import RelayStore
import RelayTransport

/// Runs as wholes: which workflow version a run runs, starting runs (a trigger's, or a sub-workflow's for a
/// parent's step), their output, their timeout, and the requests on `relay.control` (cancel, resume, and the start
/// of a sub-workflow step's retry).
///
/// Sub-workflows: a step with `workflow:` records its attempt running and starts a child run in the same
/// transaction, its input as the child's trigger event. When the child ends, its result (its output, or why it
/// failed) is published on `relay.results` as the result of the parent's attempt, exactly as a worker's result
/// would be: retries, `continue_on_failure`, late results and `for_each` items then work for sub-workflows as they
/// do for actions, and a parent is never advanced from inside another run's decision.
extension Dispatcher {
    // MARK: - Versions

    /// The workflow a run runs: the version it started with (from this process's registry, or read back from the
    /// run store), whatever has happened to the file since.
    func workflow(of run: RunRecord, in tx: any RunStoreTransaction) throws -> Workflow {
        guard let hash = run.version else {
            // A run recorded before versions were kept: the current definition of its workflow.
            guard let current = workflows.named(run.workflow) else {
                throw PoisonMessage(reason: "run \(run.id): no workflow named \(run.workflow) is loaded")
            }
            return current.workflow
        }
        if let known = workflows.version(hash) { return known }
        guard let stored = try tx.workflowVersion(hash: hash) else {
            throw PoisonMessage(reason: "run \(run.id): its workflow version \(hash) is not in the run store")
        }
        do {
            return try workflows.version(hash, source: stored.source, file: stored.file)
        } catch {
            throw PoisonMessage(reason: "run \(run.id): its workflow version \(hash) cannot be read: \(error.message)")
        }
    }

    // MARK: - Starting runs

    /// Creates a run of `version` for `event` (nothing when a run with this id exists) and starts its first steps.
    func startRun(
        id: String, version: WorkflowVersion, event: TriggerEvent, parent: RunParent?, timeout: Duration? = nil,
        in tx: any RunStoreTransaction
    ) throws -> [Progress] {
        let workflow = version.workflow
        try tx.recordWorkflowVersion(
            StoredWorkflowVersion(
                hash: version.hash, name: workflow.name, file: workflow.file, source: workflow.source))
        let limit = timeout ?? workflow.timeout
        guard
            try tx.createRun(
                NewRun(
                    id: id, workflow: workflow.name, version: version.hash, event: event, parent: parent,
                    timeout: limit.map { $0 / .seconds(1) }))
        else { return [] }
        let progress = try advance(runID: id, workflow: workflow, in: tx)
        // A trigger's run whose first job goes out now: the event-to-first-job latency is measured once published.
        let firstJob = parent == nil && progress.contains { if case .job = $0 { true } else { false } }
        let started = StartedRun(workflow: workflow.name, firstJobAfterEventAt: firstJob ? event.time : nil)
        return [.started(started)] + progress
    }

    /// Starts the child run of a sub-workflow step's attempt (or item attempt) `parent`, with `input` as its
    /// trigger event and the current version of the step's workflow. Its deadline is the step's `timeout` (when
    /// written), or the child workflow's own `timeout` when that is shorter.
    func startChild(parent: RunParent, step: WorkflowStep, input: JSONValue, in tx: any RunStoreTransaction) throws
        -> [Progress]
    {
        let name = step.workflow ?? ""
        guard let version = workflows.named(name) else {
            // Removed since the parent started (validation refuses an unknown one): the attempt fails as a
            // worker's failure would, through its result.
            return [
                .message(
                    try parentResult(
                        parent, result: .failure("sub-workflow \(name): no workflow named \(name) is loaded"), in: tx))
            ]
        }
        let limit = [step.workflowTimeout, version.workflow.timeout].compactMap { $0 }.min()
        let event = TriggerEvent(
            id: "sub:" + parent.jobID, instance: "workflow:" + name, output: input, time: RunTime.now())
        return try startRun(
            id: Self.childRunID(parent.jobID), version: version, event: event, parent: parent,
            timeout: limit, in: tx)
    }

    /// Why an attempt that the end of its run cut short failed: it never ran, or it never finished.
    static let notRun = "not run: the run had ended"
    static let notFinished = "not finished: the run had ended"

    /// Whether an attempt's error says the end of its run cut it short (rather than the step failing).
    static func endedWithRun(_ error: String?) -> Bool { error == notRun || error == notFinished }

    /// The id of the child run of a parent's attempt: the same in every process and after a restart.
    static func childRunID(_ parentJobID: String) -> String {
        "run-" + String(StableHash.fnv1a("sub:" + parentJobID), radix: 16)
    }

    /// Keeps the start of a sub-workflow step's retry (attempt `jobID`, recorded running by the caller) until its
    /// backoff after `attempt` has passed: a `start` request to this dispatcher.
    func scheduleChildRetry(
        jobID: String, runID: String, of step: WorkflowStep, after attempt: Int, in tx: any RunStoreTransaction
    ) throws {
        let delay = step.retry.delay(after: attempt) / .seconds(1)
        let request = RunControl(command: .start, runID: runID, jobID: jobID)
        try tx.schedule(request.message, jobID: jobID, dueAt: RunTime.now() + delay)
    }

    /// What a run returns when it succeeds: its workflow's `output` rendered over the run, or the output of the
    /// last step listed. A step the run never reached (a `break` ended it first) reads as skipped, with a null
    /// output, as a step skipped by its `when` does: an `output` that lists every step, as the body of an imported
    /// InsightConnect loop does, renders for the item that left the loop too.
    func runOutput(runID: String, workflow: Workflow, in tx: any RunStoreTransaction) throws -> JSONValue {
        guard let template = workflow.output else {
            // The last step's output (null when it has none, or was not reached), read alone.
            guard let last = workflow.steps.last else { return .null }
            return try tx.latestOutput(runID: runID, stepID: last.id) ?? .null
        }
        var scope = try self.scope(runID: runID, workflow: workflow, in: tx)
        for step in workflow.steps where scope.steps[step.id] == nil {
            scope.steps[step.id] = [
                "status": .string(StepStatus.skipped.rawValue), "success": false, "output": nil,
                "error": "not reached: the run ended before it",
            ]
        }
        let output = try Template.render(template, scope: scope)
        if let problem = output.payloadProblem(at: "output") { throw TemplateError(message: problem) }
        return output
    }

    /// The result of a child run for its parent's attempt, on `relay.results` as a worker's would be.
    func childResult(
        run: RunRecord, parent: RunParent, status: RunStatus, error: String?, output: JSONValue?,
        leftLoopAt: String? = nil, in tx: any RunStoreTransaction
    ) throws -> BusMessage {
        let result: StepEvent =
            status == .succeeded
            ? .success(output ?? .null)
            : .failure("sub-workflow \(run.workflow) run \(run.id) \(status.rawValue): \(error ?? "")")
        return try parentResult(parent, result: result, leftLoopAt: leftLoopAt.map { "\(run.workflow).\($0)" }, in: tx)
    }

    private func parentResult(
        _ parent: RunParent, result: StepEvent, leftLoopAt: String? = nil, in tx: any RunStoreTransaction
    ) throws -> BusMessage {
        let item = try tx.item(jobID: parent.jobID)
        let attempt = try item?.attempt ?? tx.step(jobID: parent.jobID)?.attempt ?? 1
        var route = JobRoute(
            jobID: parent.jobID, runID: parent.runID, stepID: parent.stepID, attempt: attempt,
            workflow: try tx.runRecord(id: parent.runID)?.workflow ?? "", timeoutMilliseconds: 0, item: item?.index)
        route.leftLoopAt = leftLoopAt
        var result = result
        result.meta = route.meta
        return BusMessage(topic: Topics.results, key: parent.runID, json: result.message(kind: .actionEvent).json)
    }

    /// Cancels the running child runs of `runID` (and theirs).
    func cancelChildren(of runID: String, reason: String, in tx: any RunStoreTransaction) throws -> [Progress] {
        var progress: [Progress] = []
        for child in try tx.runningChildren(of: runID) {
            // (A child whose version cannot be read is ended all the same.)
            progress += try end(
                runID: child.id, workflow: try? workflow(of: child, in: tx), status: .cancelled,
                error: "cancelled: \(reason)", in: tx)
        }
        return progress
    }

    // MARK: - Timeouts

    /// Fails a running run whose deadline has passed; its sub-workflows' runs are cancelled.
    func timeOut(_ run: RunRecord, in tx: any RunStoreTransaction) throws -> Outcome {
        let error =
            run.timeout.map { "run timed out after \(Self.text(.milliseconds(Int(($0 * 1000).rounded()))))" }
            ?? "run timed out"
        logger.warning("\(error)", metadata: ["run.id": "\(run.id)", "workflow": "\(run.workflow)"])
        var outcome = Outcome()
        // (A run whose version cannot be read times out all the same.)
        outcome.add(
            try end(runID: run.id, workflow: try? workflow(of: run, in: tx), status: .failed, error: error, in: tx))
        return outcome
    }

    // MARK: - Requests

    func applyControl(_ delivery: Delivery, in tx: any RunStoreTransaction) throws -> Outcome {
        let request: RunControl
        do {
            request = try RunControl(bytes: delivery.message.value)
        } catch {
            throw PoisonMessage(reason: "not a run request: \(Self.describe(error, in: delivery.message.value))")
        }
        let metadata: Logger.Metadata = ["run.id": "\(request.runID)", "command": "\(request.command.rawValue)"]
        guard let run = try tx.runRecord(id: request.runID) else {
            logger.warning("\(request.command.rawValue): no run \(request.runID); nothing done", metadata: metadata)
            return Outcome()
        }
        var outcome = Outcome()
        switch request.command {
        case .cancel:
            guard run.status == .running else {
                logger.info("cancel: run \(run.id) has already ended (\(run.status.rawValue))", metadata: metadata)
                return outcome
            }
            let reason = request.reason.map { "cancelled: \($0)" } ?? "cancelled by request"
            logger.info("\(reason)", metadata: metadata)
            // (A run whose version cannot be read is cancelled all the same.)
            outcome.add(
                try end(
                    runID: run.id, workflow: try? workflow(of: run, in: tx), status: .cancelled, error: reason, in: tx))
        case .resume:
            guard run.status == .failed || run.status == .cancelled else {
                logger.info(
                    "resume: run \(run.id) is \(run.status.rawValue); only a failed or cancelled run resumes",
                    metadata: metadata)
                return outcome
            }
            if let parent = run.parent {
                // Its parent's attempt ended with it: resumed alone, it would run work nobody waits for.
                logger.warning(
                    "resume: run \(run.id) is a sub-workflow's run; resume its parent run \(parent.runID)",
                    metadata: metadata)
                return outcome
            }
            logger.info("resumed", metadata: metadata)
            outcome.add(try resume(run, workflow: try workflow(of: run, in: tx), in: tx))
        case .start:
            guard run.status == .running, let jobID = request.jobID else { return outcome }
            outcome.add(
                try startScheduledChild(runID: run.id, jobID: jobID, workflow: try workflow(of: run, in: tx), in: tx))
        case .answer:
            outcome.add(try applyAnswer(request, run: run, in: tx))
        case .expire:
            outcome.add(try applyExpire(request, run: run, in: tx))
        }
        return outcome
    }

    /// Starts the child run of a sub-workflow step's retry whose backoff has passed: only for a running attempt of
    /// a sub-workflow step of this run (a request naming anything else changes nothing), once (the child's id
    /// derives from the attempt).
    private func startScheduledChild(runID: String, jobID: String, workflow: Workflow, in tx: any RunStoreTransaction)
        throws -> [Progress]
    {
        if let item = try tx.item(jobID: jobID) {
            guard item.runID == runID, item.status == .running, let step = workflow.step(item.stepID),
                step.workflow != nil, let input = item.input
            else { return [] }
            return try startChild(
                parent: RunParent(runID: runID, stepID: step.id, jobID: jobID), step: step, input: input, in: tx)
        }
        guard let attempt = try tx.step(jobID: jobID), attempt.runID == runID, attempt.status == .running,
            let step = workflow.step(attempt.stepID), step.workflow != nil
        else { return [] }
        let parent = RunParent(runID: runID, stepID: step.id, jobID: jobID)
        // The input the attempt recorded was rendered from the same steps' outputs, which have not changed since.
        do {
            let input = try Self.input(of: step, scope: self.scope(runID: runID, workflow: workflow, in: tx))
            return try startChild(parent: parent, step: step, input: input, in: tx)
        } catch let error as TemplateError {
            let failure = StepEvent.failure("input could not be rendered: \(error.message)")
            return [.message(try parentResult(parent, result: failure, in: tx))]
        }
    }

    /// Continues a failed or cancelled run: each step whose failure stopped it runs again (a new attempt; a
    /// `for_each` step runs its failed and not-run items again, a sub-workflow step starts a new child run), then
    /// every step whose needs have ended starts as usual. Succeeded steps keep their outputs; attempts still in
    /// flight when the run ended go on and are waited for. A step that failed with `continue_on_failure` after
    /// which the run went on keeps its failure.
    func resume(_ run: RunRecord, workflow: Workflow, in tx: any RunStoreTransaction) throws -> [Progress] {
        guard try tx.reopenRun(id: run.id) else { return [] }
        let latest = try tx.latestSteps(runID: run.id)
        var progress: [Progress] = []
        for step in workflow.steps {
            guard let attempt = latest[step.id], attempt.status == .failed else { continue }
            // A failure the run went on after (continue_on_failure) stays, unless the run's end cut the step short.
            if step.continueOnFailure && !Self.endedWithRun(attempt.error) { continue }
            if step.forEach != nil {
                let resumed = try resumeForEach(runID: run.id, workflow: workflow, step: step, in: tx)
                progress += resumed.progress
                if case .failedRun = resumed.state { return progress }
                continue
            }
            let next = attempt.attempt + 1
            let jobID = JobRoute.jobID(runID: run.id, stepID: step.id, attempt: next)
            if let builtin = step.builtin {
                let outcome = try decide(builtin, step: step, runID: run.id, workflow: workflow, attempt: next, in: tx)
                progress += outcome.progress
                if outcome.endedRun { return progress }
                continue
            }
            do {
                if step.workflow != nil {
                    let input = try Self.input(of: step, scope: self.scope(runID: run.id, workflow: workflow, in: tx))
                    try tx.addStep(
                        StepAttemptRecord(
                            jobID: jobID, runID: run.id, stepID: step.id, attempt: next, status: .running,
                            input: input))
                    progress += try startChild(
                        parent: RunParent(runID: run.id, stepID: step.id, jobID: jobID), step: step, input: input,
                        in: tx)
                } else {
                    let job = try job(
                        runID: run.id, workflow: workflow, step: step, attempt: next,
                        scope: self.scope(runID: run.id, workflow: workflow, in: tx))
                    // (The deadline first: the attempt's row takes it.)
                    try tx.addDeadline(deadline(for: job), startingAt: RunTime.now())
                    try tx.addStep(job.attemptRecord)
                    progress.append(.job(job))
                }
            } catch let error as TemplateError {
                let message = "input could not be rendered: \(error.message)"
                try tx.addStep(
                    StepAttemptRecord(
                        jobID: jobID, runID: run.id, stepID: step.id, attempt: next, status: .failed, error: message))
                if !step.continueOnFailure {
                    return progress
                        + (try end(
                            runID: run.id, workflow: workflow, status: .failed, error: "step \(step.id): \(message)",
                            in: tx))
                }
            }
        }
        return progress + (try advance(runID: run.id, workflow: workflow, in: tx))
    }

    /// A failed `for_each` step of a resumed run: running again, with a new pending attempt for each item that
    /// failed or never ran (its succeeded items keep their outputs); when its array was never rendered, from the
    /// start.
    private func resumeForEach(runID: String, workflow: Workflow, step: WorkflowStep, in tx: any RunStoreTransaction)
        throws -> ForEachProgress
    {
        try tx.reopenStep(jobID: JobRoute.jobID(runID: runID, stepID: step.id, attempt: 1))
        let items = try tx.latestItems(runID: runID, stepID: step.id)
        if items.isEmpty { return try startForEach(runID: runID, workflow: workflow, step: step, in: tx) }
        for item in items where item.status == .failed {
            try tx.addItemAttempt(
                ItemAttemptRecord(
                    jobID: JobRoute.jobID(runID: runID, stepID: step.id, item: item.index, attempt: item.attempt + 1),
                    runID: runID, stepID: step.id, index: item.index, attempt: item.attempt + 1, status: .pending,
                    item: item.item))
        }
        return try fillItems(
            runID: runID, workflow: workflow, step: step, scope: self.scope(runID: runID, workflow: workflow, in: tx),
            in: tx)
    }
}
