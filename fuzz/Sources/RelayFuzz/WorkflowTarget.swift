import Foundation
import RelayCore
import RelaySpec

/// Workflow YAML (WorkflowDecoder), with the cron schedules and retry delays a decoded workflow leads to.
/// Invariants for a workflow that decodes:
/// - a name, a positive version, at least one step, step ids unique and of the documented form;
/// - every `steps.ID` a step's input, condition (every reference in it) or `for_each` refers to is a step before it;
///   `item` and `index` only in the input of a `for_each` step; every `vars.NAME` a step or the output reads is
///   declared;
/// - a step runs either a plugin's action or a sub-workflow (`workflow:`), never both;
/// - the workflow's `output` refers to the trigger, its steps and its vars only; its `timeout` is positive;
/// - durations are not negative, retries at least 1, and every retry delay lies between zero and the cap;
/// - a schedule that parses gives a next time after now, or none; nothing traps.
/// A decoding error names the file.
enum WorkflowTarget {
    static let file = "fuzz.workflow.yaml"
    static let now = Date(timeIntervalSince1970: 1_750_000_000)

    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let workflow: Workflow
        do throws(RelayError) {
            workflow = try WorkflowDecoder.decode(yaml: text, file: file)
        } catch {
            return fuzzCheck(error.message.hasPrefix(file), "a decoding error does not name the file: \(error.message)")
        }
        fuzzCheck(
            !workflow.name.isEmpty && workflow.version > 0 && !workflow.steps.isEmpty,
            "decoded an incomplete workflow: \(workflow.name) v\(workflow.version), \(workflow.steps.count) steps")
        _ = workflow.trigger?.instanceID
        if let every = workflow.trigger?.every { fuzzCheck(every >= .zero, "negative every: \(every)") }
        if let timeout = workflow.timeout { fuzzCheck(timeout > .zero, "workflow timeout \(timeout)") }
        let ids = Set(workflow.steps.map(\.id))
        if let output = workflow.output {
            for reference in (try? Template.references(in: output)) ?? [["<unparseable>"]] {
                fuzzCheck(
                    reference.first == "trigger" || declared(reference, in: workflow)
                        || (reference.first == "steps" && reference.count >= 2
                            && ids.contains(reference[1])),
                    "output refers to \(Template.text(of: reference)), not the trigger, a step or a var")
            }
        }
        if let schedule = workflow.trigger?.schedule, let cron = try? CronSchedule(schedule) {
            if let next = cron.next(after: now) {
                fuzzCheck(next > now, "cron \(schedule): next \(next) is not after now")
            }
        }
        var earlier = Set<String>()
        let before = Self.stepsBefore(workflow)
        for step in workflow.steps {
            fuzzCheck(isStepID(step.id) && !earlier.contains(step.id), "bad or repeated step id \"\(step.id)\"")
            if let name = step.workflow {
                fuzzCheck(
                    !name.isEmpty && step.plugin.isEmpty && step.action.isEmpty && step.connection == nil,
                    "step \(step.id) runs both workflow \(name) and \(step.plugin).\(step.action)")
            }
            let input = (try? Template.references(in: step.input)) ?? [["<unparseable>"]]
            let forEach = step.forEach.map { (try? Template.references(in: .string($0))) ?? [["<unparseable>"]] }
            for (reference, inInput) in input.map({ ($0, true) })
                + (step.when?.references ?? []).map({ ($0, false) }) + (forEach ?? []).map({ ($0, false) })
            where reference.first != "trigger" && !reference.isEmpty {
                // A for_each step's input may use its item and index.
                if inInput, step.forEach != nil, reference.first == "item" || reference == ["index"] { continue }
                if reference.first == "vars" {
                    fuzzCheck(
                        declared(reference, in: workflow), "step \(step.id) reads an undeclared var: \(reference)")
                    continue
                }
                fuzzCheck(
                    reference.first == "steps" && reference.count >= 2
                        && before[step.id, default: []].contains(
                            reference[1]),
                    "step \(step.id) refers to \(Template.text(of: reference)), not a step before it")
            }
            fuzzCheck(step.timeout >= .zero && step.retry.backoff >= .zero, "negative duration in step \(step.id)")
            fuzzCheck(step.retry.attempts >= 1, "step \(step.id): \(step.retry.attempts) attempts")
            for attempt in [1, 2, min(step.retry.attempts, 200), step.retry.attempts] {
                let delay = step.retry.delay(after: attempt)
                fuzzCheck(
                    delay >= .zero && delay <= max(step.retry.backoff, step.retry.maxBackoff),
                    "step \(step.id): delay \(delay) after attempt \(attempt)")
            }
            earlier.insert(step.id)
        }
    }

    /// A reference to the workflow's vars (all of them, or one it declares).
    static func declared(_ reference: [String], in workflow: Workflow) -> Bool {
        reference.first == "vars" && (reference.count == 1 || workflow.vars[reference[1]] != nil)
    }

    /// For each step, the steps before it in the graph: its needs (as written, or the step listed before it), their
    /// needs, and so on; worked out here, apart from Relay's own graph code.
    static func stepsBefore(_ workflow: Workflow) -> [String: Set<String>] {
        var needs: [String: [String]] = [:]
        for (index, step) in workflow.steps.enumerated() {
            needs[step.id] = step.needs ?? (index > 0 ? [workflow.steps[index - 1].id] : [])
        }
        var before: [String: Set<String>] = [:]
        for step in workflow.steps {
            var seen = Set<String>()
            var stack = needs[step.id] ?? []
            while let next = stack.popLast() {
                guard seen.insert(next).inserted else { continue }
                stack += needs[next] ?? []
            }
            before[step.id] = seen
        }
        return before
    }

    static func isStepID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || first == "_" else {
            return false
        }
        return id.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
        }
    }
}
