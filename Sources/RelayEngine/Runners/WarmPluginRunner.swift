import Foundation
import RelayCore

/// Keeps one `<command> http --port P` server of an external plugin running on loopback and POSTs each step to
/// it (`/api/v1/actions/NAME`, `/api/v1/tasks/NAME`, `/api/v1/connection/test`). The server is started on first
/// use and again after it dies. A step past its deadline gets an error result and the server is killed (a Python
/// plugin cannot cancel a running step any other way); the next step starts a fresh one.
///
/// Steps go over `PluginHTTPClient`: keep-alive connections reused from step to step, the step's deadline a timer
/// on the connection's event loop (no task and no thread per step besides the caller's).
public actor WarmPluginRunner: PluginRunner {
    public let plugin: ExternalPlugin
    public let startupTimeout: Duration
    private var server: ServerProcess?
    private var starting: Task<ServerProcess, any Error>?

    public init(plugin: ExternalPlugin, startupTimeout: Duration = .seconds(60)) {
        self.plugin = plugin
        self.startupTimeout = startupTimeout
    }

    /// The port of the running server, if any (for tests and diagnostics).
    public var port: Int? { server?.isRunning == true ? server?.port : nil }

    /// Nonisolated: only finding (or starting) the server runs on the actor; the request, its JSON and the
    /// response's run on the caller's executor, so a plugin's concurrent steps do not queue for the actor and the
    /// response does not hop back onto it.
    public nonisolated func run(_ start: StepStart, timeout: Duration) async -> StepEvent {
        let server: ServerProcess
        do {
            server = try await ensureServer()
        } catch {
            return ProcessPluginRunner.failure(
                "could not start the plugin server (\(plugin.command.joined(separator: " ")) http): \(error)",
                kind: .server, meta: start.meta)
        }
        let path: String
        switch start.step {
        case .action(let name): path = "/api/v1/actions/\(name)"
        case .task(let name): path = "/api/v1/tasks/\(name)"
        case .trigger(let name): path = "/api/v1/triggers/\(name)/test"
        case .connectionTest: path = "/api/v1/connection/test"
        }
        let response: PluginHTTPClient.Response
        do {
            response = try await server.client.request(
                .POST, path, body: JSONWriter.compact.bytes(start.message.json), timeout: timeout)
        } catch let failure as PluginHTTPClient.Failure where failure.kind == .timeout {
            await forget(server)
            server.stop()
            return ProcessPluginRunner.failure(
                "the plugin did not finish within \(timeout); its server was killed and will be restarted",
                kind: .timeout, meta: start.meta)
        } catch {
            if !server.isRunning {
                return ProcessPluginRunner.failure(
                    "the plugin server died during the step; its last output: \(server.outputTail())", kind: .server,
                    meta: start.meta)
            }
            return ProcessPluginRunner.failure(
                "the plugin server did not answer: \(error)", kind: .server, meta: start.meta)
        }
        if response.status == 204 { return .success(.null, meta: start.meta) }
        // Python's json.dumps writes Infinity and NaN: read them, so the worker fails the step saying why.
        guard let json = try? JSONParser.parsePythonStyle(bytes: response.body),
            let message = try? V1Message(json: json)
        else {
            return ProcessPluginRunner.failure(
                "the plugin server answered HTTP \(response.status) without a v1 envelope: "
                    + "\(EnvelopeReader.excerpt(response.body))",
                kind: .server, meta: start.meta)
        }
        do {
            var event = try StepEvent(body: message.body)
            if event.status == .error {
                event.errorKind =
                    response.status == 400
                    ? (event.exception != nil ? .plugin : .client)
                    : response.status == 501 ? .notImplemented : .server
            }
            return event
        } catch {
            return ProcessPluginRunner.failure(
                "the plugin server's envelope is malformed: \(error.message)", kind: .server, meta: start.meta)
        }
    }

    /// Drops `server` if it is still the current one (the next step starts a fresh one).
    private func forget(_ server: ServerProcess) {
        if self.server === server { self.server = nil }
    }

    /// Stops the server and returns when it and everything it started are gone.
    public func shutdown() async {
        starting?.cancel()
        let server = self.server
        self.server = nil
        await server?.stopAndWait()
    }

    /// The process group of the running server, if any (for tests and diagnostics).
    public var serverProcessGroup: pid_t? { server?.isRunning == true ? server?.processGroup : nil }

    private func ensureServer() async throws -> ServerProcess {
        if let server, server.isRunning { return server }
        if let starting { return try await starting.value }
        let plugin = self.plugin
        let timeout = startupTimeout
        let task = Task { try await ServerProcess.start(plugin: plugin, timeout: timeout) }
        starting = task
        defer { starting = nil }
        let started = try await task.value
        server = started
        return started
    }
}

/// One running `http` server process of a plugin, in its own process group: stopping it (or its exit) ends
/// everything it started, such as gunicorn's workers. Its client keeps the connections to it.
final class ServerProcess: Sendable {
    let port: Int
    let client: PluginHTTPClient
    private let process: PluginProcess
    private let logURL: URL

    private init(port: Int, process: PluginProcess, logURL: URL) {
        self.port = port
        self.client = PluginHTTPClient(port: port)
        self.process = process
        self.logURL = logURL
    }

    var isRunning: Bool { process.isRunning }

    /// The server's process group id (its pid), for diagnostics and tests.
    var processGroup: pid_t { process.pid }

    /// Ends the server's group without waiting: SIGTERM now, SIGKILL after 3 s to what is left.
    func stop() {
        client.close()
        guard process.isRunning else { return }
        process.terminate(grace: .seconds(3))
    }

    /// Ends the server's group and returns when its leader is gone.
    func stopAndWait() async {
        client.close()
        await process.stop(grace: .seconds(3))
    }

    /// The last lines the server printed.
    func outputTail(limit: Int = 600) -> String {
        guard let data = try? Data(contentsOf: logURL) else { return "nothing" }
        let text = String(decoding: data.suffix(limit), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "nothing" : "\"…\(text)\""
    }

    deinit {
        process.signalGroup(SIGKILL)
        try? FileManager.default.removeItem(at: logURL)
    }

    /// Starts the server on a free port and waits until it answers. The port is free when chosen, and may be taken
    /// before the server binds it (another process choosing at the same moment): a server that exits saying its
    /// address is in use is started again on another port, up to three times.
    static func start(plugin: ExternalPlugin, timeout: Duration) async throws -> ServerProcess {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await start(plugin: plugin, port: try LoopbackPort.free(), timeout: timeout)
            } catch let taken as PortTaken {
                if attempt == 3 { throw taken.error }
            }
        }
    }

    /// A server that exited while starting because its port was taken meanwhile: `error` says so.
    private struct PortTaken: Error { var error: RelayError }

    private static func start(plugin: ExternalPlugin, port: Int, timeout: Duration) async throws -> ServerProcess {
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-plugin-\(UUID().uuidString).log")
        let log = open(logURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard log >= 0 else { throw RelayError(.io, "\(logURL.path): cannot create the server's log file") }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(log)
            close(null)
        }
        let process = try PluginProcess.spawn(
            command: plugin.command + ["http", "--port", String(port)], environment: plugin.environment,
            workingDirectory: plugin.workingDirectory, stdin: null, stdout: log, stderr: log)
        let server = ServerProcess(port: port, process: process, logURL: logURL)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let termination = process.termination {
                let output = server.outputTail()
                let error = RelayError(.plugin, "the server \(termination) while starting; its output: \(output)")
                // (gunicorn and Python's own servers say so in these words: errno 98, EADDRINUSE.)
                if output.contains("Address already in use") { throw PortTaken(error: error) }
                throw error
            }
            if let response = try? await server.client.request(.GET, "/api/v1/status", timeout: .seconds(2)),
                response.status == 200
            {
                return server
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.stop()
        throw RelayError(
            .timeout, "the server did not answer on port \(port) within \(timeout); its output: \(server.outputTail())")
    }
}

/// Free TCP ports on loopback (for a child that must be told its port up front; the tests use it too).
public enum LoopbackPort {
    /// Binds port 0 on 127.0.0.1, reads the port the kernel chose, closes the socket.
    public static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RelayError(.io, "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw RelayError(.io, "bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw RelayError(.io, "getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
