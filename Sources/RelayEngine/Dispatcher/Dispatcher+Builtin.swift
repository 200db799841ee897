import Foundation
import Logging
import RelayCore
import RelayStore

/// Built-in steps (`artifact`, `match`, `filter`, `break`, `decision`, `global_artifact`, `join`): decided here, in the
/// transaction that reaches them, without a job. Each is recorded as one attempt like any step (its `input` is what
/// it was given, its `output` what it made), so `relay runs show`, templates and resume see them as they see the
/// others. A `decision` is the one that waits: its attempt runs until `relay runs answer` (a `RunControl` answer)
/// or its timeout ends it.
extension Dispatcher {
    /// What deciding a built-in step did.
    struct BuiltinOutcome {
        /// The attempt as recorded: succeeded, skipped, failed, or running (a decision waiting for its answer).
        var record: StepAttemptRecord
        var progress: [Progress] = []
        /// The run ended (a `break`, or a failure that fails the run): nothing more is decided in it.
        var endedRun = false
    }

    /// A built-in step's failure: why, as the step's error.
    struct BuiltinFailure: Error { var message: String }

    /// Decides attempt `attempt` of the built-in step `step` of a running run.
    func decide(
        _ builtin: BuiltinStep, step: WorkflowStep, runID: String, workflow: Workflow, attempt: Int,
        in tx: any RunStoreTransaction
    ) throws -> BuiltinOutcome {
        let jobID = JobRoute.jobID(runID: runID, stepID: step.id, attempt: attempt)
        func record(_ status: StepStatus, input: JSONValue? = nil, error: String? = nil) -> StepAttemptRecord {
            StepAttemptRecord(
                jobID: jobID, runID: runID, stepID: step.id, attempt: attempt, status: status, input: input,
                error: error)
        }
        let scope = try self.scope(runID: runID, workflow: workflow, in: tx)
        var input: JSONValue?
        do {
            switch builtin {
            case .filter(let condition):
                guard try condition.decide(in: scope) else {
                    let skipped = record(.skipped, error: "filter did not pass: \(condition.description)")
                    try tx.addStep(skipped)
                    return BuiltinOutcome(record: skipped)
                }
                return try succeed(record(.running), output: ["passed": true], in: tx)
            case .breakLoop(let condition):
                if let condition, try !condition.decide(in: scope) {
                    // The path goes on: the step succeeds without leaving (a skip would end the path after it).
                    return try succeed(record(.running), output: ["broke": false], in: tx)
                }
                var outcome = try succeed(record(.running), output: ["broke": true], in: tx)
                outcome.progress = try end(
                    runID: runID, workflow: workflow, status: .succeeded, error: nil, leftLoopAt: step.id, in: tx)
                outcome.endedRun = true
                return outcome
            case .artifact(let artifact):
                let content = try TextTemplate(artifact.content).render(scope: scope)
                guard content.utf8.count <= ArtifactStep.maximumContent else {
                    throw BuiltinFailure(
                        message: "the artifact's content has \(content.utf8.count) bytes, more than "
                            + "\(ArtifactStep.maximumContent)")
                }
                let name = artifact.name.isEmpty ? step.id : artifact.name
                let running = record(.running)
                try tx.addStep(running)
                try tx.addArtifact(
                    RunArtifact(
                        runID: runID, stepID: step.id, jobID: jobID, name: name,
                        format: RunArtifact.Format(rawValue: artifact.format) ?? .markdown, content: content,
                        createdAt: RunTime.now()))
                return try succeed(
                    running,
                    output: ["name": .string(name), "format": .string(artifact.format), "content": .string(content)],
                    in: tx, added: true)
            case .match(let match):
                let text = try Self.matchText(Template.render(.string(match.text), scope: scope))
                input = ["text": .string(text), "pattern": .string(match.pattern)]
                return try succeed(record(.running, input: input), output: try Self.run(match, on: text), in: tx)
            case .decision(let decision):
                let question = try TextTemplate(decision.question).render(scope: scope)
                let waiting = record(
                    .running,
                    input: ["question": .string(question), "options": .array(decision.options.map(JSONValue.string))])
                try tx.addStep(waiting)
                if let timeout = decision.timeout {
                    // A person's time, on the wall clock: not a job deadline, which a restarting dispatcher gives
                    // its full time again.
                    var expire = RunControl(command: .expire, runID: runID, jobID: jobID)
                    expire.stepID = step.id
                    try tx.schedule(
                        expire.message, jobID: "expire:\(jobID)", dueAt: RunTime.now() + timeout / .seconds(1))
                }
                logger.info(
                    "a decision waits for an answer: \(question)",
                    metadata: [
                        "run.id": "\(runID)", "step.id": "\(step.id)",
                        "options": "\(decision.options.joined(separator: ", "))",
                    ])
                return BuiltinOutcome(record: waiting)
            case .globalArtifact(let global):
                switch global.operation {
                case .lookup(let template):
                    let fields = try Template.render(template, scope: scope)
                    input = ["name": .string(global.name), "lookup": fields]
                    let wanted = fields.objectValue ?? [:]
                    let entries = try tx.globalArtifactEntries(name: global.name).filter { entry in
                        guard let object = entry.objectValue else { return false }
                        return wanted.allSatisfy { key, value in object[key] == value }
                    }
                    return try succeed(
                        record(.running, input: input),
                        output: [
                            "found": .bool(!entries.isEmpty), "count": .int(entries.count),
                            "entries": .array(Array(entries.prefix(ArtifactLimits.mostLookupEntries))),
                        ], in: tx)
                case .append(let template):
                    let entry = try Template.render(template, scope: scope)
                    input = ["name": .string(global.name), "append": entry]
                    guard entry.objectValue != nil else {
                        throw BuiltinFailure(
                            message: "append rendered to \(entry.typeName), expected an object (an entry with fields a "
                                + "lookup can match)")
                    }
                    if let problem = entry.payloadProblem(at: "append") { throw BuiltinFailure(message: problem) }
                    let running = record(.running, input: input)
                    try tx.addStep(running)
                    let count = try tx.appendGlobalArtifact(
                        name: global.name, entry: entry, runID: runID, stepID: step.id)
                    return try succeed(running, output: ["appended": entry, "count": .int(count)], in: tx, added: true)
                }
            case .join(let join):
                // Each value from the first of its needs (in the order written) whose path reached the join.
                let latest = try tx.latestSteps(runID: runID)
                let paths = join.values.map { value in
                    value.paths.first { path in latest[path.need].map { $0.status != .skipped } ?? false }
                }
                // What it was given: the need each value was taken from (null: no path reached it).
                input = [
                    "taken": .object(
                        JSONObject(
                            zip(join.values, paths).map { ($0.name, $1.map { .string($0.need) } ?? .null) },
                            uniquingKeysWith: { first, _ in first }))
                ]
                var output: JSONObject = [:]
                for (value, path) in zip(join.values, paths) {
                    output[value.name] = try path.map { try Template.render($0.template, scope: scope) } ?? .null
                }
                if let problem = JSONValue.object(output).payloadProblem(at: "output") {
                    throw BuiltinFailure(message: problem)
                }
                return try succeed(record(.running, input: input), output: .object(output), in: tx)
            }
        } catch {
            // What fails the step: a template, the step's own check, or a limit of the run store (an artifact's
            // size, a global artifact's entries: nothing was written, and the step fails with it rather than the
            // decision rolling back and coming again). Anything else is the store's and rolls the batch back.
            let message: String
            switch error {
            case let error as TemplateError: message = error.message
            case let error as BuiltinFailure: message = error.message
            case let error as RelayError where error.code == .invalidValue: message = error.message
            default: throw error
            }
            return try fail(record(.failed, input: input, error: message), step: step, workflow: workflow, in: tx)
        }
    }

    /// Records `running` (unless `added`) and its success with `output`.
    private func succeed(
        _ running: StepAttemptRecord, output: JSONValue, in tx: any RunStoreTransaction, added: Bool = false
    ) throws -> BuiltinOutcome {
        if !added { try tx.addStep(running) }
        let now = RunTime.now()
        try tx.finishStep(jobID: running.jobID, result: .success(output), startedAt: now, finishedAt: now)
        var record = running
        record.status = .succeeded
        return BuiltinOutcome(record: record)
    }

    /// Records the failed attempt (or finishes it, when it was added running) and fails the run unless the step
    /// may continue on failure: a step decided here that fails (a built-in step, or a step whose `when` cannot be
    /// decided).
    func fail(
        _ failed: StepAttemptRecord, step: WorkflowStep, workflow: Workflow, in tx: any RunStoreTransaction
    ) throws -> BuiltinOutcome {
        let message = failed.error ?? ""
        if try tx.step(jobID: failed.jobID) != nil {
            try tx.finishStep(jobID: failed.jobID, result: .failure(message), startedAt: nil)
        } else {
            try tx.addStep(failed)
        }
        var outcome = BuiltinOutcome(record: failed)
        if !step.continueOnFailure {
            outcome.progress = try end(
                runID: failed.runID, workflow: workflow, status: .failed,
                error: "step \(step.id) failed: \(message)", in: tx)
            outcome.endedRun = true
        }
        return outcome
    }

    /// What a `match` step searches: a string as it is, a number or a boolean as JSON text.
    static func matchText(_ value: JSONValue) throws(BuiltinFailure) -> String {
        let text: String
        switch value {
        case .string(let string): text = string
        case .int, .bigInt, .double, .bool: text = JSONWriter.compact.string(value)
        default: throw BuiltinFailure(message: "the text to match rendered to \(value.typeName), expected a string")
        }
        guard text.utf16.count <= MatchStep.maximumText else {
            throw BuiltinFailure(
                message: "the text to match has \(text.utf16.count) characters, more than \(MatchStep.maximumText)")
        }
        return text
    }

    /// A `match` step's output over `text`: `matched`, and each named group's capture (null when it did not take
    /// part); with `all`, each group's captures of every match, in order.
    static func run(_ match: MatchStep, on text: String) throws(BuiltinFailure) -> JSONValue {
        let regex: NSRegularExpression
        do {
            regex = try NSRegularExpression(pattern: match.pattern, options: match.ignoreCase ? [.caseInsensitive] : [])
        } catch {
            throw BuiltinFailure(message: "\"\(match.pattern)\" is not a regular expression")
        }
        guard case .matches(let found) = RegexSearch.search(regex, in: text, all: match.all) else {
            throw BuiltinFailure(
                message: "the pattern took longer than \(Self.text(RegexSearch.limit)) on a text of "
                    + "\(text.utf16.count) characters; it backtracks too much (simplify it)")
        }
        let source = text as NSString
        func capture(_ result: NSTextCheckingResult, _ group: String) -> JSONValue {
            let range = result.range(withName: group)
            return range.location == NSNotFound ? .null : .string(source.substring(with: range))
        }
        var output: JSONObject = ["matched": .bool(!found.isEmpty)]
        for group in match.groups {
            if match.all {
                // In match order, null where the group took no part: the arrays of several groups line up.
                output[group] = .array(found.map { capture($0, group) })
            } else {
                output[group] = found.first.map { capture($0, group) } ?? .null
            }
        }
        return .object(output)
    }

    /// What a decision's attempt records as its output when it is answered (or its timeout takes the default).
    static func answer(_ option: String, by: String?, timedOut: Bool) -> JSONValue {
        [
            "option": .string(option), "answered_by": by.map(JSONValue.string) ?? .null,
            "answered_at": .double(RunTime.now()), "timed_out": .bool(timedOut),
        ]
    }

    /// A decision's timeout has passed: when its attempt still waits, its default answers it, or it fails (and the
    /// run with it, unless it may continue on failure).
    func applyExpire(_ request: RunControl, run: RunRecord, in tx: any RunStoreTransaction) throws -> Outcome {
        guard run.status == .running, let jobID = request.jobID, let attempt = try tx.step(jobID: jobID),
            attempt.status == .running
        else { return Outcome() }
        let workflow = try self.workflow(of: run, in: tx)
        guard case .decision(let decision) = workflow.step(attempt.stepID)?.builtin else { return Outcome() }
        let metadata: Logger.Metadata = ["run.id": "\(run.id)", "step.id": "\(attempt.stepID)"]
        guard let fallback = decision.defaultOption else {
            logger.warning("a decision was not answered within its timeout; it fails", metadata: metadata)
            return try record(
                .failure("no answer within \(Self.text(decision.timeout ?? .zero))"), of: attempt, workflow: workflow,
                startedAt: nil, in: tx)
        }
        logger.info(
            "a decision was not answered within its timeout; it takes its default \"\(fallback)\"", metadata: metadata)
        return try record(
            .success(Self.answer(fallback, by: nil, timedOut: true)), of: attempt, workflow: workflow, startedAt: nil,
            in: tx)
    }

    /// Answers a decision step that waits (`relay runs answer`): its attempt succeeds with the option, and the run
    /// goes on. A request for a step that does not wait, or with an option it does not offer, changes nothing.
    func applyAnswer(_ request: RunControl, run: RunRecord, in tx: any RunStoreTransaction) throws -> Outcome {
        let metadata: Logger.Metadata = ["run.id": "\(run.id)", "step.id": "\(request.stepID ?? "")"]
        guard run.status == .running, let stepID = request.stepID, let option = request.option else {
            logger.info("answer: run \(run.id) is \(run.status.rawValue); nothing waits", metadata: metadata)
            return Outcome()
        }
        let workflow = try self.workflow(of: run, in: tx)
        guard let step = workflow.step(stepID), case .decision(let decision) = step.builtin else {
            logger.warning("answer: \(stepID) is not a decision step of \(workflow.name)", metadata: metadata)
            return Outcome()
        }
        guard let attempt = try tx.latestSteps(runID: run.id)[stepID], attempt.status == .running else {
            logger.info("answer: decision \(stepID) does not wait (answered, or not reached)", metadata: metadata)
            return Outcome()
        }
        guard decision.options.contains(option) else {
            logger.warning(
                "answer: \"\(option)\" is not an option of \(stepID) (\(decision.options.joined(separator: ", ")))",
                metadata: metadata)
            return Outcome()
        }
        logger.info("answered \(stepID): \(option)", metadata: metadata)
        return try record(
            .success(Self.answer(option, by: request.answeredBy, timedOut: false)), of: attempt, workflow: workflow,
            startedAt: nil, in: tx)
    }
}
