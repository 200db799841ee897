import Crypto
import Foundation
import Logging
import RelayCore
import RelaySDK
import RelayStore
import RelayTransport
import Synchronization

/// Runs the trigger instances the workflows need (one per distinct plugin, trigger, connection and input) and
/// publishes each event on `relay.events` with an id. Every instance is supervised: when it ends or fails, it is
/// logged and restarted after a backoff that doubles up to a minute; it never takes the host down. Trigger state
/// is kept in the run store, so it survives restarts. Webhook triggers get their requests from `webhooks`.
///
/// The instances follow the registry's current workflows: when the set is replaced (hot reload), instances of new
/// bindings start and those no workflow binds any more are cancelled (a webhook's path stops answering); the
/// others go on untouched.
///
/// Several hosts may share the work (`ownership`, the distributed `relay triggers`): each runs the instances it owns
/// and follows the ownership as it changes (an instance owned elsewhere now is stopped, one owned here now starts);
/// webhook instances run on every host. Without an ownership (`relay up`) the host runs every instance.
///
/// An event's id is the instance's id and the position the trigger names for it (`TriggerEventPosition`: a timer's
/// tick), so that a repeat after a failover is a no-op at the dispatcher; random when the trigger names none.
///
/// Shutdown: cancellation stops every instance; events already sent are durable.
public final class TriggerHost: Sendable {
    let bus: any Transport
    /// Where events go: `relay.events`, or, beside a dispatcher sharing the bus's transactions, straight into that
    /// dispatcher's decision (`Dispatcher.decideLocally`: the event's run starts in the transaction that accepts it).
    let events: MessageSink
    /// Where trigger state is kept.
    let states: any TriggerStateStore
    let catalog: PluginCatalog
    let connections: ConnectionStore
    /// The workflows whose bindings run.
    let registry: WorkflowRegistry
    let metrics: PipelineMetrics
    let logger: Logger
    /// Webhook inboxes by path, filled when webhook instances start.
    public let webhooks = WebhookRouter()
    /// Where external trigger processes POST their events (`dispatcher.url`), by instance.
    public let dispatch = DispatchEndpoint()
    let maximumBackoff: Duration
    /// Which instances this host runs when several share the work; nil: all of them.
    let ownership: (any TriggerOwnership)?
    /// The instances being supervised now, each with how many supervisors it has (two for a moment when an
    /// instance released is owned again before its first supervisor has ended).
    private let active = Mutex<[String: Int]>([:])

    public init(
        bus: any Transport, states: any TriggerStateStore, catalog: PluginCatalog, connections: ConnectionStore,
        registry: WorkflowRegistry, ownership: (any TriggerOwnership)? = nil, events: MessageSink? = nil,
        metrics: PipelineMetrics = PipelineMetrics(), logger: Logger = Logger(label: "relay.triggers"),
        maximumBackoff: Duration = .seconds(60)
    ) {
        self.ownership = ownership
        self.bus = bus
        self.events = events ?? .bus(bus)
        self.states = states
        self.catalog = catalog
        self.connections = connections
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        self.maximumBackoff = maximumBackoff
    }

    /// A host of a fixed set of workflows.
    public convenience init(
        bus: any Transport, states: any TriggerStateStore, catalog: PluginCatalog, connections: ConnectionStore,
        workflows: [Workflow],
        metrics: PipelineMetrics = PipelineMetrics(), logger: Logger = Logger(label: "relay.triggers"),
        maximumBackoff: Duration = .seconds(60)
    ) {
        self.init(
            bus: bus, states: states, catalog: catalog, connections: connections,
            registry: WorkflowRegistry(workflows), metrics: metrics, logger: logger, maximumBackoff: maximumBackoff)
    }

    /// The distinct bindings of `workflows`, in order.
    static func bindings(of workflows: [Workflow]) -> [TriggerBinding] {
        var seen = Set<String>()
        return workflows.compactMap(\.trigger).filter { seen.insert($0.instanceID).inserted }
    }

    public func run() async throws {
        // Subscribed before the first read, so that no replacement falls between the two.
        let registryChanges = registry.changes()
        await withDiscardingTaskGroup { group in
            // One wake-up for each registry replacement and ownership change (the newest only, when several come
            // while the loop is busy).
            let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            group.addTask {
                for await _ in registryChanges { wake.yield() }
            }
            if let ownership {
                // Its first element comes at once: a change before this subscription is not missed.
                group.addTask {
                    for await _ in ownership.changes() { wake.yield() }
                }
            }
            var wakeups = wakes.makeAsyncIterator()
            // The instances running, by id, each with what stops it.
            var running: [String: AsyncStream<Never>.Continuation] = [:]
            var first = true
            while !Task.isCancelled {
                let plan = TriggerInstancePlan(
                    running: Set(running.keys), wanted: Self.bindings(of: registry.workflows),
                    owns: { instance in self.ownership?.owns(instance) ?? true })
                for instance in plan.stop {
                    running.removeValue(forKey: instance)?.finish()
                    logger.info(
                        "trigger instance \(instance) stopped: no workflow binds it any more",
                        metadata: ["trigger.instance": "\(instance)"])
                }
                for instance in plan.release {
                    running.removeValue(forKey: instance)?.finish()
                    logger.info(
                        "trigger instance \(instance) stopped: another trigger host owns it now",
                        metadata: ["trigger.instance": "\(instance)"])
                }
                for binding in plan.start {
                    let (stopped, stop) = AsyncStream<Never>.makeStream()
                    running[binding.instanceID] = stop
                    if !first || ownership != nil {
                        logger.info(
                            "trigger instance \(binding.instanceID) started (\(binding.plugin)/\(binding.trigger))",
                            metadata: ["trigger.instance": "\(binding.instanceID)"])
                    }
                    group.addTask { await self.supervise(binding, until: stopped) }
                }
                first = false
                // The next change; nil when this task is cancelled (the group then cancels every instance).
                guard await wakeups.next() != nil else { break }
            }
            wake.finish()
        }
    }

    /// The instances this host runs now, by id (for tests and diagnostics).
    public var runningInstances: Set<String> { active.withLock { Set($0.keys) } }

    /// Supervises `binding` until `stopped` ends (its workflows are gone) or the host is cancelled.
    private func supervise(_ binding: TriggerBinding, until stopped: AsyncStream<Never>) async {
        active.withLock { $0[binding.instanceID, default: 0] += 1 }
        defer {
            active.withLock { active in
                let left = (active[binding.instanceID] ?? 1) - 1
                active[binding.instanceID] = left > 0 ? left : nil
            }
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.supervise(binding) }
            for await _ in stopped {}
            group.cancelAll()
        }
    }

    private func supervise(_ binding: TriggerBinding) async {
        var backoff = Duration.seconds(1)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let event = await runOnce(binding)
            if Task.isCancelled { return }
            let reason = event.error ?? "it returned"
            logger.error(
                "trigger \(binding.plugin)/\(binding.trigger) stopped: \(reason); restarting in \(backoff)",
                metadata: [
                    "plugin": "\(binding.plugin)", "trigger": "\(binding.trigger)",
                    "trigger.instance": "\(binding.instanceID)",
                ])
            metrics.triggerRestarted(plugin: binding.plugin, trigger: binding.trigger)
            if ContinuousClock.now - started > .seconds(60) { backoff = .seconds(1) }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, maximumBackoff)
        }
    }

    func runOnce(_ binding: TriggerBinding) async -> StepEvent {
        let instance = binding.instanceID
        guard let entry = catalog[binding.plugin] else {
            return .failure("no plugin named \(binding.plugin) is installed")
        }
        let parameters: JSONValue
        do {
            parameters = try connections.parameters(binding.connection)
        } catch {
            return .failure("\(error)")
        }
        var meta: JSONObject = ["triggerId": .string(instance)]
        // The connection's name lets the plugin host drop its old client when the connection is replaced.
        if let name = binding.connection { meta["connection"] = .string(name) }
        let start = StepStart(
            step: .trigger(binding.trigger), input: binding.input, connection: parameters,
            meta: .object(meta))
        // Trigger events of every kind (native, external, tasks) leave the host with connection secrets masked.
        let masker = entry.secretMasker(for: parameters)
        let send: @Sendable (JSONValue) async throws -> Void = { output in
            // What the dispatcher could not read must not reach the bus (it would be dead-lettered, the trigger
            // told yes): the trigger gets the error instead.
            if let problem = output.payloadProblem(at: "output") {
                throw RelayError(.invalidValue, "trigger \(instance) produced an event Relay cannot carry: \(problem)")
            }
            let event = TriggerEvent(
                id: try Self.eventID(instance: instance, position: TriggerEventPosition.current),
                instance: instance, plugin: binding.plugin,
                trigger: binding.trigger, output: masker.mask(output), time: Date().timeIntervalSince1970)
            try await self.events.commit([.message(event.message)], [])
            let workflows = self.registry.bound(to: instance).map(\.workflow.name).sorted()
            self.metrics.eventPublished(
                plugin: binding.plugin, trigger: binding.trigger, workflow: workflows.joined(separator: ","))
        }
        if binding.isTask { return await runTask(binding, start: start, entry: entry, send: send) }
        switch entry.executor {
        case let host as PluginHost:
            var inbox: WebhookInbox?
            if binding.plugin == "webhook", let path = binding.input["path"]?.stringValue {
                // A connection makes the webhook signed: its secret checks every request's signature.
                let signature: WebhookSignature?
                do {
                    signature = try WebhookSignature(connection: binding.connection, parameters: parameters)
                } catch {
                    return .failure("webhook /webhooks/\(path): \(error)")
                }
                let created = WebhookInbox()
                webhooks.register(path: path, inbox: created, signature: signature)
                inbox = created
            }
            defer {
                if let inbox {
                    webhooks.unregister(inbox: inbox)
                    inbox.finish()
                }
            }
            return await host.runTrigger(start, state: state(for: instance), webhook: inbox, send: send)
        case let process as any ExternalProcessPlugin:
            let baseURL = await dispatch.baseURL()
            // Random for each start of the process: a token cannot be derived from what the trigger is.
            let token = DispatchEndpoint.newToken()
            dispatch.register(token: token, send: send)
            defer { dispatch.unregister(token: token) }
            var startMessage = start
            startMessage.dispatcherURL = "\(baseURL)/dispatcher/\(token)"
            startMessage.webhookURL = ""
            return await ExternalTriggerProcess.run(plugin: process.externalPlugin, start: startMessage, logger: logger)
        default:
            return .failure("plugin \(binding.plugin) cannot run triggers")
        }
    }

    /// Runs a spec task on its schedule, forever: each item of its output becomes an event; its state is kept in
    /// the run store; when it reports more pages it runs again at once.
    func runTask(
        _ binding: TriggerBinding, start: StepStart, entry: PluginCatalog.Entry,
        send: @escaping @Sendable (JSONValue) async throws -> Void
    ) async -> StepEvent {
        let instance = binding.instanceID
        let state = state(for: instance)
        var cron: CronSchedule?
        if let expression = binding.schedule {
            do { cron = try CronSchedule(expression) } catch { return .failure(error.message) }
        }
        while !Task.isCancelled {
            var hasMore = true
            while hasMore && !Task.isCancelled {
                var taskStart = StepStart(
                    step: .task(binding.trigger), input: binding.input, connection: start.connection, meta: start.meta)
                do {
                    taskStart.state = try await state.loadRaw() ?? [:]
                } catch {
                    return .failure("could not load the state of task \(instance): \(error)")
                }
                // Not masked here: each item is as it is sent (`send`), and the state is kept as the task wrote it.
                let event = await entry.executor.runTask(taskStart, timeout: .seconds(600))
                guard event.status == .ok else { return event }
                for item in event.output?.arrayValue ?? (event.output.map { [$0] } ?? []) {
                    do { try await send(item) } catch { return .failure("\(error)") }
                }
                if let newState = event.state {
                    // Not saved: the next run starts from the last saved state (its events may come again).
                    do { try await state.saveRaw(newState) } catch {
                        return .failure("could not save the state of task \(instance): \(error)")
                    }
                }
                hasMore = event.hasMorePages ?? false
            }
            let wait: Duration
            if let every = binding.every {
                wait = every
            } else if let cron, let next = cron.next(after: Date()) {
                wait = .milliseconds(max(0, Int(next.timeIntervalSinceNow * 1000)))
            } else {
                wait = .seconds(60)
            }
            try? await Task.sleep(for: wait)
        }
        return .success([:])
    }

    /// The id of an event of `instance`: `instance@position` when the trigger named the position it fired for (the
    /// same for a repeat, whichever host sends it), else random.
    static func eventID(instance: String, position: String?) throws -> String {
        guard let position else { return UUID().uuidString.lowercased() }
        guard !position.isEmpty, position.utf8.count <= TriggerEventPosition.maximumLength else {
            throw RelayError(
                .invalidValue,
                "trigger \(instance) named an event position of \(position.utf8.count) bytes; expected 1 to "
                    + "\(TriggerEventPosition.maximumLength)")
        }
        return instance + "@" + position
    }

    /// The state of one trigger instance, in the trigger state store.
    func state(for instance: String) -> TriggerState {
        let states = self.states
        return TriggerState(
            load: { try await states.state(of: instance) },
            save: { value in try await states.save(value, of: instance) })
    }
}

/// The loopback endpoint external trigger processes POST their `trigger_event` messages to.
public final class DispatchEndpoint: Sendable {
    private let senders = Mutex<[String: @Sendable (JSONValue) async throws -> Void]>([:])
    private let base = Mutex<(url: String?, waiters: [CheckedContinuation<String, Never>])>((nil, []))

    /// Set once the HTTP server listens: `http://127.0.0.1:PORT`.
    public func setBaseURL(_ url: String) {
        let waiters = base.withLock { state -> [CheckedContinuation<String, Never>] in
            state.url = url
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: url) }
    }

    func baseURL() async -> String {
        await withCheckedContinuation { continuation in
            let ready = base.withLock { state -> String? in
                if let url = state.url { return url }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// 32 random bytes in hex: where one run of an external trigger posts its events.
    static func newToken() -> String {
        Hex.string(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    func register(token: String, send: @escaping @Sendable (JSONValue) async throws -> Void) {
        senders.withLock { $0[token] = send }
    }
    func unregister(token: String) { senders.withLock { _ = $0.removeValue(forKey: token) } }

    /// Publishes the event of a `trigger_event` body; false when the token is unknown.
    public func deliver(token: String, message: JSONValue) async throws -> Bool {
        guard let send = senders.withLock({ $0[token] }) else { return false }
        let output = message["body"]?["output"] ?? message["output"] ?? .null
        try await send(output)
        return true
    }
}
