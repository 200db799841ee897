import Foundation
import Logging
import RelayCore
import RelayTransport

/// Turns events into workflow runs and results into what follows: the next step, a retry after backoff, a skip,
/// or the end of the run. Every decision is recorded in the run store in the same transaction that publishes its
/// consequences and acknowledges its input, so a redelivered event never starts a second run and a redelivered
/// result never emits a second job.
///
/// Shutdown: cancellation stops intake; the message being handled finishes its transaction first.
public final class Dispatcher: Sendable {
    let bus: any LedgerTransport
    let workflows: [Workflow]
    let logger: Logger
    let metrics: PipelineMetrics

    public init(
        bus: any LedgerTransport, workflows: [Workflow], metrics: PipelineMetrics = PipelineMetrics(),
        logger: Logger = Logger(label: "relay.dispatcher")
    ) {
        self.bus = bus
        self.workflows = workflows
        self.metrics = metrics
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async throws {
        let events = try await bus.subscribe(topic: Topics.events, group: "relay.dispatcher")
        let results = try await bus.subscribe(topic: Topics.results, group: "relay.dispatcher")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.consume(events) { db, delivery in try self.applyEvent(delivery, in: db) } }
            group.addTask { try await self.consume(results) { db, delivery in try self.applyResult(delivery, in: db) } }
            group.addTask { try await self.releaseScheduledJobs() }
            defer { group.cancelAll() }
            try await group.next()
        }
        await events.close()
        await results.close()
    }

    /// What handling one message decided: messages to publish and counters to move once committed.
    struct Outcome: Sendable {
        var messages: [BusMessage] = []
        var runsStarted = 0
        var runsSucceeded = 0
        var runsFailed = 0
        var deadLettered = 0
    }

    /// Handles whatever is waiting (up to 256 messages) in one transaction: their decisions, what they publish and
    /// their acknowledgements commit together.
    private func consume(
        _ subscription: any BusSubscription,
        _ apply: @escaping @Sendable (SQLiteConnection, Delivery) throws -> Outcome
    ) async throws {
        while true {
            let batch = try await subscription.nextBatch(maximum: 256)
            if batch.isEmpty { return }
            let total = try await bus.transaction(acknowledging: batch) { db -> (Outcome, [BusMessage]) in
                var total = Outcome()
                for delivery in batch {
                    var outcome: Outcome
                    do {
                        outcome = try apply(db, delivery)
                    } catch let poison as PoisonMessage {
                        outcome = Outcome(messages: [self.deadLetter(delivery, reason: poison.reason)], deadLettered: 1)
                    }
                    total.messages += outcome.messages
                    total.runsStarted += outcome.runsStarted
                    total.runsSucceeded += outcome.runsSucceeded
                    total.runsFailed += outcome.runsFailed
                    total.deadLettered += outcome.deadLettered
                }
                return (total, total.messages)
            }
            metrics.runsStarted.increment(by: total.runsStarted)
            metrics.runsSucceeded.increment(by: total.runsSucceeded)
            metrics.runsFailed.increment(by: total.runsFailed)
            metrics.deadLettered.increment(by: total.deadLettered)
        }
    }

    struct PoisonMessage: Error { var reason: String }

    private func deadLetter(_ delivery: Delivery, reason: String) -> BusMessage {
        logger.error("dead-lettered a message from \(delivery.message.topic): \(reason)")
        var headers = delivery.message.headers
        headers["relay.dlq.reason"] = reason
        headers["relay.dlq.topic"] = delivery.message.topic
        headers["relay.dlq.offset"] = String(delivery.offset)
        return BusMessage(topic: Topics.dlq, key: delivery.message.key, value: delivery.message.value, headers: headers)
    }

    // MARK: - Events

    func applyEvent(_ delivery: Delivery, in db: SQLiteConnection) throws -> Outcome {
        let event: JSONValue
        do {
            event = try JSONParser.parse(bytes: delivery.message.value)
        } catch {
            throw PoisonMessage(reason: "not an event: \(error) in \(EventText.excerpt(delivery.message.value))")
        }
        guard let eventID = event["eventId"]?.stringValue, let instance = event["instance"]?.stringValue else {
            throw PoisonMessage(
                reason:
                    "not an event: expected JSON with eventId, instance and output, found "
                    + "\(EventText.excerpt(delivery.message.value))"
            )
        }
        let bound = workflows.filter { $0.trigger.instanceID == instance }
        guard !bound.isEmpty else {
            throw PoisonMessage(reason: "no workflow is bound to trigger instance \(instance)")
        }
        let output = event["output"] ?? [:]
        var outcome = Outcome()
        guard try RunStore.recordEvent(eventID, instance: instance, in: db) else { return outcome }
        for workflow in bound {
            let runID = "run-" + String(StableHash.fnv1a(eventID + "/" + workflow.name), radix: 16)
            guard try RunStore.createRun(id: runID, workflow: workflow.name, eventID: eventID, event: output, in: db)
            else { continue }
            outcome.runsStarted += 1
            let messages = try advance(runID: runID, workflow: workflow, after: -1, in: db)
            outcome.messages += messages
            if messages.contains(where: { $0.topic == Topics.runs }) { outcome.runsFailed += 1 }
        }
        return outcome
    }

    // MARK: - Results

    /// A result message read as a step event, or the reason it is not one.
    static func result(_ bytes: [UInt8]) throws -> StepEvent {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes: bytes)
        } catch {
            throw PoisonMessage(reason: "not a result: \(error) in \(EventText.excerpt(bytes))")
        }
        do {
            let message = try V1Message(json: json)
            guard message.kind == .actionEvent else {
                throw PoisonMessage(
                    reason: "not a result: expected a v1 action_event, found a \(message.kind.rawValue)")
            }
            return try StepEvent(body: message.body)
        } catch let error as V1ProtocolError {
            throw PoisonMessage(reason: "not a result: \(error) in \(EventText.excerpt(bytes))")
        }
    }

    static func excerpt(_ value: JSONValue) -> String {
        EventText.excerpt(JSONWriter.compact.bytes(value))
    }

    func applyResult(_ delivery: Delivery, in db: SQLiteConnection) throws -> Outcome {
        let event = try Self.result(delivery.message.value)
        guard let jobID = event.meta["jobId"]?.stringValue else {
            throw PoisonMessage(
                reason:
                    "not a result of Relay's: expected meta.jobId (a string), found meta \(Self.excerpt(event.meta))")
        }
        guard let workflowName = event.meta["workflow"]?.stringValue else {
            throw PoisonMessage(
                reason:
                    "result of job \(jobID): expected meta.workflow (a string), found meta \(Self.excerpt(event.meta))")
        }
        guard let workflow = workflows.first(where: { $0.name == workflowName }) else {
            throw PoisonMessage(reason: "result for unknown workflow \(workflowName)")
        }
        // From the message: a time within Unix time's sane range, or none (it feeds durations in `relay runs`).
        let startedAt = event.meta["startedAt"]?.doubleValue.flatMap { (0...1e11).contains($0) ? $0 : nil }
        guard let step = try RunStore.step(jobID: jobID, in: db) else {
            throw PoisonMessage(
                reason: "result of job \(jobID): no such job in the run store (the run is unknown here)")
        }
        // A result already recorded (redelivered) changes nothing.
        guard step.status == "running" else { return Outcome() }
        try RunStore.finishStep(jobID: jobID, event: event, startedAt: startedAt, in: db)
        guard let index = workflow.index(of: step.stepID) else { return Outcome() }
        let definition = workflow.steps[index]
        var finished: (String, String)?
        var messages: [BusMessage] = []
        if event.status == .ok || (step.attempt >= definition.retry.attempts && definition.continueOnFailure) {
            (finished, messages) = try finishIfDone(
                runID: step.runID, messages: advance(runID: step.runID, workflow: workflow, after: index, in: db),
                workflow: workflow, in: db)
        } else if step.attempt < definition.retry.attempts,
            let job = try? self.job(
                runID: step.runID, workflow: workflow, step: definition, attempt: step.attempt + 1,
                scope: RunStore.scope(runID: step.runID, in: db))
        {
            // (A retry renders the input as the first attempt did; should that fail now, the step has failed.)
            let attempt = step.attempt + 1
            let delay = definition.retry.delay(after: step.attempt)
            let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            try RunStore.addStep(
                jobID: job.0, runID: step.runID, stepID: definition.id, attempt: attempt, status: "running",
                input: job.2, in: db)
            try RunStore.schedule(job.1, jobID: job.0, dueAt: RunStore.now() + seconds, in: db)
        } else {
            try RunStore.finishRun(
                id: step.runID, status: "failed", error: "step \(definition.id) failed: \(event.error ?? "")", in: db)
            finished = (step.runID, "failed")
            messages = [runNotice(step.runID, workflow: workflow.name, status: "failed")]
        }
        var outcome = Outcome(messages: messages)
        if let (_, status) = finished {
            if status == "succeeded" { outcome.runsSucceeded = 1 } else { outcome.runsFailed = 1 }
        } else if messages.contains(where: { $0.topic == Topics.runs }) {
            outcome.runsFailed = 1
        }
        return outcome
    }

    private func finishIfDone(runID: String, messages: [BusMessage], workflow: Workflow, in db: SQLiteConnection) throws
        -> ((String, String)?, [BusMessage])
    {
        if messages.isEmpty {
            try RunStore.finishRun(id: runID, status: "succeeded", error: nil, in: db)
            return ((runID, "succeeded"), [runNotice(runID, workflow: workflow.name, status: "succeeded")])
        }
        return (nil, messages)
    }

    private func runNotice(_ runID: String, workflow: String, status: String) -> BusMessage {
        BusMessage(
            topic: Topics.runs, key: runID,
            json: ["runId": .string(runID), "workflow": .string(workflow), "status": .string(status)])
    }

    /// The job for the first step after `index` whose condition holds (skipped ones are recorded), or nothing when
    /// the run has no step left. A step whose input cannot be rendered fails at once (it never reaches a worker).
    func advance(runID: String, workflow: Workflow, after index: Int, in db: SQLiteConnection) throws -> [BusMessage] {
        var next = index + 1
        while next < workflow.steps.count {
            let step = workflow.steps[next]
            let scope = try RunStore.scope(runID: runID, in: db)
            if let condition = step.when, !condition.holds(in: scope) {
                try RunStore.addStep(
                    jobID: "\(runID)/\(step.id)/0", runID: runID, stepID: step.id, attempt: 0, status: "skipped",
                    input: nil,
                    error: "condition not met: \(condition.description)", in: db)
                next += 1
                continue
            }
            do {
                let (jobID, message, input) = try job(
                    runID: runID, workflow: workflow, step: step, attempt: 1, scope: scope)
                try RunStore.addStep(
                    jobID: jobID, runID: runID, stepID: step.id, attempt: 1, status: "running", input: input, in: db)
                return [message]
            } catch let error as TemplateError {
                let jobID = "\(runID)/\(step.id)/1"
                try RunStore.addStep(
                    jobID: jobID, runID: runID, stepID: step.id, attempt: 1, status: "failed", input: nil,
                    error: "input could not be rendered: \(error.message)", in: db)
                if step.continueOnFailure {
                    next += 1
                    continue
                }
                try RunStore.finishRun(
                    id: runID, status: "failed",
                    error: "step \(step.id): input could not be rendered: \(error.message)", in: db)
                return [runNotice(runID, workflow: workflow.name, status: "failed")]
            }
        }
        return []
    }

    /// The job message for one attempt of a step: a v1 action_start whose meta carries Relay's routing data.
    func job(runID: String, workflow: Workflow, step: WorkflowStep, attempt: Int, scope: Template.Scope) throws -> (
        String, BusMessage, JSONValue
    ) {
        let input = try Template.render(step.input, scope: scope)
        if let problem = input.payloadProblem(at: "input") { throw TemplateError(message: problem) }
        let jobID = "\(runID)/\(step.id)/\(attempt)"
        var meta: JSONObject = [
            "jobId": .string(jobID), "runId": .string(runID), "stepId": .string(step.id), "attempt": .int(attempt),
            "workflow": .string(workflow.name),
            "timeoutMs": .int(
                Int(
                    step.timeout.components.seconds * 1000 + step.timeout.components.attoseconds / 1_000_000_000_000_000
                )),
        ]
        if let connection = step.connection { meta["connection"] = .string(connection) }
        let start = StepStart(step: .action(step.action), input: input, connection: [:], meta: .object(meta))
        return (jobID, BusMessage(topic: Topics.jobs(step.plugin), key: runID, json: start.message.json), input)
    }

    /// Publishes retries whose backoff has passed.
    private func releaseScheduledJobs() async throws {
        while !Task.isCancelled {
            let released = try await bus.transaction(acknowledging: []) { db -> (Int, [BusMessage]) in
                let due = try RunStore.takeDueJobs(in: db)
                return (due.count, due)
            }
            if released == 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
    }
}

enum EventText {
    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return "\"" + text + (bytes.count > 120 ? "…" : "") + "\""
    }
}
