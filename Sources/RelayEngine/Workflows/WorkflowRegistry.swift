import Crypto
import RelayCore
import RelaySpec
import Synchronization

/// One version of a workflow: its definition and the hash of the text it was read from, by which runs refer to
/// it (`relay runs show` prints it).
public struct WorkflowVersion: Sendable, Equatable {
    public var workflow: Workflow
    /// SHA-256 of `workflow.source`, in hex.
    public var hash: String

    public init(_ workflow: Workflow) {
        self.workflow = workflow
        hash = Hex.string(SHA256.hash(data: Array(workflow.source.utf8)))
    }

    /// The first 12 characters of the hash, as people read it.
    public var shortHash: String { String(hash.prefix(12)) }
}

/// The workflows a process runs: the current version of each (what new runs start with, and which trigger
/// instances exist), and every version this process has seen, by hash (what a run that started on an older
/// version goes on with). The current set is replaced as a whole (hot reload); a version once seen is kept.
///
/// Readers get a snapshot; `changes()` tells the trigger host when the current set has been replaced.
public final class WorkflowRegistry: Sendable {
    private struct State {
        var current: [WorkflowVersion] {
            didSet { index() }
        }
        /// The current versions by trigger instance and by name: an event looks up its workflows in these (an
        /// instance id is a hash of the trigger's connection and input, too dear to work out for every workflow
        /// at every event).
        var byInstance: [String: [WorkflowVersion]] = [:]
        var byName: [String: WorkflowVersion] = [:]
        var byHash: [String: Workflow]
        var generation: Int
        var observers: [Int: AsyncStream<Int>.Continuation]
        var nextObserver: Int

        init(current: [WorkflowVersion], byHash: [String: Workflow]) {
            self.current = current
            self.byHash = byHash
            generation = 0
            observers = [:]
            nextObserver = 0
            index()
        }

        mutating func index() {
            byInstance = [:]
            byName = [:]
            for version in current {
                if let instance = version.workflow.trigger?.instanceID {
                    byInstance[instance, default: []].append(version)
                }
                if byName[version.workflow.name] == nil { byName[version.workflow.name] = version }
            }
        }
    }

    private let state: Mutex<State>

    public init(_ workflows: [Workflow]) {
        let versions = workflows.map(WorkflowVersion.init)
        state = Mutex(
            State(
                current: versions, byHash: Dictionary(versions.map { ($0.hash, $0.workflow) }) { first, _ in first }))
    }

    /// The current version of every workflow.
    public var current: [WorkflowVersion] { state.withLock { $0.current } }

    /// The current workflows.
    public var workflows: [Workflow] { current.map(\.workflow) }

    /// How many times the current set has been replaced.
    public var generation: Int { state.withLock { $0.generation } }

    /// The current version of the workflow named `name`.
    public func named(_ name: String) -> WorkflowVersion? {
        state.withLock { $0.byName[name] }
    }

    /// The current versions of the workflows that trigger instance `instance` starts.
    public func bound(to instance: String) -> [WorkflowVersion] {
        state.withLock { $0.byInstance[instance] ?? [] }
    }

    /// A version seen by this process, or nil.
    public func version(_ hash: String) -> Workflow? { state.withLock { $0.byHash[hash] } }

    /// A version read back from where runs keep it (the run store): decoded once, then kept.
    public func version(_ hash: String, source: String, file: String) throws(RelayError) -> Workflow {
        if let known = version(hash) { return known }
        let workflow = try WorkflowDecoder.decode(yaml: source, file: file)
        state.withLock { $0.byHash[hash] = workflow }
        return workflow
    }

    /// Replaces the current set (new runs start with these versions); observers are told.
    public func replace(with workflows: [Workflow]) {
        let versions = workflows.map(WorkflowVersion.init)
        let observers = state.withLock { state -> [AsyncStream<Int>.Continuation] in
            state.current = versions
            for version in versions where state.byHash[version.hash] == nil {
                state.byHash[version.hash] = version.workflow
            }
            state.generation += 1
            return Array(state.observers.values)
        }
        let generation = self.generation
        for observer in observers { observer.yield(generation) }
    }

    /// The generation after each replacement of the current set, from now on (the newest only, when several
    /// come before the reader reads).
    public func changes() -> AsyncStream<Int> {
        let (stream, continuation) = AsyncStream<Int>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int in
            let id = state.nextObserver
            state.nextObserver += 1
            state.observers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.observers.removeValue(forKey: id) }
        }
        return stream
    }
}
