import RelayCore
import RelaySpec

/// One workflow file as read on a poll of the workflows directory.
public struct WorkflowSourceFile: Sendable, Equatable {
    public var path: String
    /// The file's text; nil when it could not be read.
    public var text: String?

    public init(path: String, text: String?) {
        self.path = path
        self.text = text
    }
}

/// Hot reload as a pure function: from the workflows active before (by the file each was read from) and the files
/// as they are now, the workflows active now, what changed, and what is wrong.
///
/// - A file that decodes and passes `WorkflowValidator` replaces the workflow of that file (or adds one).
/// - A file that does not keeps the workflow read from it before, if there was one, and is a problem.
/// - A file that is gone removes its workflow.
/// - What only the set shows (a step's unknown sub-workflow, a workflow that calls itself, two workflows with one
///   name) must hold for the new set too: a new version that brings a problem the set would not have without it is
///   not applied (its file keeps its previous version) and is a problem of its file. The new versions are applied
///   all at once when the set is clean with all of them; otherwise one at a time, in order of path, as long as one
///   more can be (so a workflow and the new sub-workflow it calls come in together).
/// - A removed file is always removed; a problem that leaves in the set (another workflow calls the removed one) is
///   reported on the files that have it, which stay active as they are: their runs fail at that step.
public struct WorkflowReload: Sendable, Equatable {
    /// A file whose content is not applied, or that has a problem only the set shows.
    public struct Problem: Sendable, Equatable {
        public var file: String
        /// Each as the decoder and validator write it: `file:line: key: reason`, or `file: key: reason`.
        public var messages: [String]
        /// The version of the file's workflow that stays active (nil: none, the file adds nothing).
        public var active: Workflow?
        /// The file's text: what the problem was found in.
        public var text: String?
    }

    /// The workflows active now, by the path of the file each was read from.
    public var active: [String: Workflow]
    public var added: [Workflow] = []
    public var changed: [Workflow] = []
    public var removed: [Workflow] = []
    /// By path.
    public var problems: [Problem] = []

    /// The workflows active now, in order of path.
    public var workflows: [Workflow] { active.sorted { $0.key < $1.key }.map(\.value) }

    /// Whether the active set differs from the one before.
    public var changesAnything: Bool { !(added.isEmpty && changed.isEmpty && removed.isEmpty) }

    /// The reload of `files` (every workflow file now in the directory) over `previous` (the active workflows, by
    /// file), each checked by `validator`.
    public static func apply(
        previous: [String: Workflow], files: [WorkflowSourceFile], validator: WorkflowValidator
    ) -> WorkflowReload {
        let present = Set(files.map(\.path))
        var problems: [String: Problem] = [:]
        // What stays whatever happens: the previous version of every file still there.
        var accepted = previous.filter { present.contains($0.key) }
        var pending: [String: Workflow] = [:]
        for file in files.sorted(by: { $0.path < $1.path }) {
            func refuse(_ messages: [String]) {
                problems[file.path] = Problem(
                    file: file.path, messages: messages, active: previous[file.path], text: file.text)
            }
            guard let text = file.text else {
                refuse(["\(file.path): the file could not be read"])
                continue
            }
            let workflow: Workflow
            do {
                workflow = try WorkflowDecoder.decode(yaml: text, file: file.path)
            } catch {
                refuse([error.message])
                continue
            }
            let found = validator.problems(workflow)
            guard found.isEmpty else {
                refuse(found)
                continue
            }
            if previous[file.path] != workflow { pending[file.path] = workflow }
        }

        // The set-level check: a new version may not bring a problem the set has not without it.
        var known = SetProblems(accepted)
        func admits(_ changes: [String: Workflow]) -> (admitted: Bool, trial: SetProblems) {
            let trial = SetProblems(accepted.merging(changes) { $1 })
            return (trial.isWithin(known), trial)
        }
        let all = admits(pending)
        if all.admitted {
            accepted.merge(pending) { $1 }
            known = all.trial
            pending = [:]
        } else {
            var progress = true
            while progress, !pending.isEmpty {
                progress = false
                for (path, workflow) in pending.sorted(by: { $0.key < $1.key }) {
                    let one = admits([path: workflow])
                    guard one.admitted else { continue }
                    accepted[path] = workflow
                    known = one.trial
                    pending[path] = nil
                    progress = true
                }
            }
            // Those left may still come in together (two workflows that trade names).
            let rest = admits(pending)
            if !pending.isEmpty, rest.admitted {
                accepted.merge(pending) { $1 }
                known = rest.trial
                pending = [:]
            }
        }
        for (path, workflow) in pending {
            // Its own problems when it has some (a name another workflow has); else those it makes elsewhere (a
            // workflow that calls it by the name it no longer has).
            let brought = admits([path: workflow]).trial.messages(notIn: known)
            let own = brought.filter { $0.hasPrefix(path + ": ") }
            problems[path] = Problem(
                file: path, messages: own.isEmpty ? brought : own, active: previous[path],
                text: files.first { $0.path == path }?.text)
        }
        // What the set has even so: a workflow calls one whose file was removed.
        for (path, messages) in known.byFile where problems[path] == nil {
            problems[path] = Problem(
                file: path, messages: messages, active: accepted[path], text: files.first { $0.path == path }?.text)
        }

        var reload = WorkflowReload(active: accepted)
        for (path, workflow) in accepted.sorted(by: { $0.key < $1.key }) where previous[path] != workflow {
            if previous[path] == nil {
                reload.added.append(workflow)
            } else {
                reload.changed.append(workflow)
            }
        }
        reload.removed = previous.filter { !present.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
        reload.problems = problems.values.sorted { $0.file < $1.file }
        return reload
    }
}

/// The problems only a set of workflows shows (`WorkflowValidator.problems(in:)`, and names used twice), by the
/// file they are in.
struct SetProblems: Equatable {
    private(set) var byFile: [String: [String]] = [:]

    init(_ workflows: [String: Workflow]) {
        let files = workflows.keys.sorted { $0.count > $1.count }
        var owners: [String: String] = [:]
        for (path, workflow) in workflows.sorted(by: { $0.key < $1.key }) {
            if let other = owners[workflow.name] {
                byFile[path, default: []].append(
                    "\(path): name: another workflow is already named \"\(workflow.name)\" (\(other))")
                byFile[other, default: []].append(
                    "\(other): name: another workflow is already named \"\(workflow.name)\" (\(path))")
            } else {
                owners[workflow.name] = path
            }
        }
        let ordered = workflows.sorted { $0.key < $1.key }.map(\.value)
        for message in WorkflowValidator.problems(in: ordered) {
            // Each message starts with the file of the workflow it is about; the longest path that fits is its.
            let file = files.first { message.hasPrefix($0 + ": ") } ?? ""
            byFile[file, default: []].append(message)
        }
    }

    /// Whether every problem here is one `other` has too. An unknown sub-workflow's message lists the workflows
    /// there are, which any added workflow changes: that list is left out of the comparison.
    func isWithin(_ other: SetProblems) -> Bool {
        let theirs = Set(other.byFile.values.joined().map(Self.comparable))
        return byFile.values.joined().allSatisfy { theirs.contains(Self.comparable($0)) }
    }

    /// The messages here that `other` has not, in order of file.
    func messages(notIn other: SetProblems) -> [String] {
        let theirs = Set(other.byFile.values.joined().map(Self.comparable))
        return byFile.sorted { $0.key < $1.key }.flatMap(\.value).filter { !theirs.contains(Self.comparable($0)) }
    }

    private static func comparable(_ message: String) -> String {
        guard let list = message.range(of: "; the workflows are ") else { return message }
        return String(message[..<list.lowerBound])
    }
}
