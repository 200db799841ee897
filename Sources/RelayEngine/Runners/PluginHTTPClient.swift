import NIOCore
import NIOHTTP1
import NIOPosix
import RelayCore
import Synchronization

/// HTTP/1.1 to one plugin server on loopback, over keep-alive connections that are reused: a request takes an idle
/// connection (or opens one), sends one request, reads the whole response and gives the connection back. One hop to
/// the connection's event loop and back per request, no other threads. What `WarmPluginRunner` POSTs steps with,
/// and what `relay plugin bench-runners --chain` drives the plugins' servers with when it measures them alone.
///
/// Limits: a response body larger than `maxResponseBytes` fails the request (and closes its connection); at most
/// `maxIdleConnections` idle connections are kept, more are closed when given back. A connection idle for longer
/// than `maxIdleTime` is closed instead of reused: gunicorn closes idle keep-alive connections after 2 s, and a
/// request written as the server closes its connection would fail without having reached the plugin.
public final class PluginHTTPClient: Sendable {
    /// A request that failed: the server refused or dropped the connection, answered something that is not HTTP,
    /// took longer than the request's timeout, or answered a body over the limit.
    public struct Failure: Error, CustomStringConvertible {
        public enum Kind: Sendable { case connection, timeout, tooLarge }
        public var kind: Kind
        public var description: String
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        /// The server keeps the connection open after it (HTTP/1.1 keep-alive, no `Connection: close`).
        var keepAlive = true
    }

    public let host: String
    public let port: Int
    public let maxResponseBytes: Int
    public let maxIdleConnections: Int
    public let maxIdleTime: Duration
    private let group: any EventLoopGroup
    /// Idle keep-alive connections and when each was given back; `nil` once the client is closed (connections
    /// given back then are closed).
    private let idle: Mutex<[(channel: any Channel, since: ContinuousClock.Instant)]?> = Mutex([])

    public init(
        host: String = "127.0.0.1", port: Int, maxResponseBytes: Int = 64 << 20, maxIdleConnections: Int = 16,
        maxIdleTime: Duration = .seconds(1), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.maxResponseBytes = maxResponseBytes
        self.maxIdleConnections = maxIdleConnections
        self.maxIdleTime = maxIdleTime
        self.group = group
    }

    deinit { close() }

    /// Closes the idle connections; requests in flight finish, and their connections are closed afterwards.
    public func close() {
        let channels = idle.withLock { idle in
            defer { idle = nil }
            return idle ?? []
        }
        for entry in channels { entry.channel.close(promise: nil) }
    }

    /// Sends `method path` with `body` (JSON) and returns the response; throws `Failure`. Cancelling the calling
    /// task closes the request's connection and throws.
    public func request(
        _ method: HTTPMethod, _ path: String, body: [UInt8] = [], timeout: Duration
    ) async throws -> Response {
        let channel = try await connection()
        let promise = channel.eventLoop.makePromise(of: Response.self)
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        let exchange = PluginHTTPExchange(head: head, body: body, promise: promise, timeout: timeout)
        let response: Response
        do {
            response = try await withTaskCancellationHandler {
                channel.writeAndFlush(exchange, promise: nil)
                return try await promise.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            channel.close(promise: nil)
            throw error
        }
        if response.keepAlive { giveBack(channel) } else { channel.close(promise: nil) }
        return response
    }

    private func connection() async throws -> any Channel {
        let now = ContinuousClock.now
        while let entry = idle.withLock({ $0?.popLast() }) {
            if entry.channel.isActive, now - entry.since < maxIdleTime { return entry.channel }
            entry.channel.close(promise: nil)
        }
        let maxResponseBytes = self.maxResponseBytes
        do {
            return try await ClientBootstrap(group: group)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            PluginHTTPExchangeHandler(maxResponseBytes: maxResponseBytes))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw Failure(kind: .connection, description: "cannot connect to \(host):\(port): \(error)")
        }
    }

    private func giveBack(_ channel: any Channel) {
        let kept = idle.withLock { idle -> Bool in
            guard channel.isActive, idle != nil, idle!.count < maxIdleConnections else { return false }
            idle!.append((channel, ContinuousClock.now))
            return true
        }
        if !kept { channel.close(promise: nil) }
    }
}

/// One request and the promise of its response, written to a connection's pipeline.
struct PluginHTTPExchange: Sendable {
    var head: HTTPRequestHead
    var body: [UInt8]
    var promise: EventLoopPromise<PluginHTTPClient.Response>
    var timeout: Duration
}

/// Writes an exchange's request and completes its promise with the response; one exchange at a time per
/// connection. A connection whose response says `Connection: close`, or that fails or times out, is closed.
final class PluginHTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PluginHTTPExchange
    typealias OutboundOut = HTTPClientRequestPart

    private let maxResponseBytes: Int
    private var promise: EventLoopPromise<PluginHTTPClient.Response>?
    private var deadline: Scheduled<Void>?
    private var status = 0
    private var keepAlive = true
    private var body: [UInt8] = []

    init(maxResponseBytes: Int) { self.maxResponseBytes = maxResponseBytes }

    func write(context: ChannelHandlerContext, data: NIOAny, promise writePromise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard promise == nil else {
            exchange.promise.fail(
                PluginHTTPClient.Failure(kind: .connection, description: "a request is already in flight"))
            return
        }
        promise = exchange.promise
        status = 0
        body.removeAll(keepingCapacity: true)
        // Clamped: TimeAmount holds about 292 years; a step's timeout was clamped far below that already.
        let timeout = min(exchange.timeout, .seconds(86_400 * 365))
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) { [weak self] in
            self?.fail(
                context: context,
                PluginHTTPClient.Failure(kind: .timeout, description: "no response within \(exchange.timeout)"))
        }
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if !exchange.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: exchange.body.count)
            buffer.writeBytes(exchange.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: writePromise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
        case .body(var buffer):
            guard body.count + buffer.readableBytes <= maxResponseBytes else {
                fail(
                    context: context,
                    PluginHTTPClient.Failure(
                        kind: .tooLarge, description: "the response is larger than \(maxResponseBytes) bytes"))
                return
            }
            body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .end:
            deadline?.cancel()
            deadline = nil
            let response = PluginHTTPClient.Response(status: status, body: body, keepAlive: keepAlive)
            body = []
            let promise = self.promise
            self.promise = nil
            promise?.succeed(response)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(
            context: context,
            PluginHTTPClient.Failure(kind: .connection, description: "the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, PluginHTTPClient.Failure(kind: .connection, description: "\(error)"))
    }

    private func fail(context: ChannelHandlerContext, _ failure: PluginHTTPClient.Failure) {
        deadline?.cancel()
        deadline = nil
        let promise = self.promise
        self.promise = nil
        if promise != nil { context.close(promise: nil) }
        promise?.fail(failure)
    }
}
