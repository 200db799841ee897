import Foundation
import Logging
import RelayCore
import RelayStore
import RelayTestSupport
import RelayTransport
import ServiceLifecycle
import Testing

@testable import RelayEngine

#if canImport(Glibc)
    import Glibc
#endif

/// The pipeline's HTTP server over a real socket.
@Suite struct PipelineHTTPTests {
    /// A client that keeps sending a body past the limit gets 413, then the connection is closed: the server does
    /// not read (and drop) the rest, which is what Hummingbird does by default before the next request.
    @Test func aBodyTooLargeIsAnswered413AndTheConnectionClosed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("relay.sqlite").path)
        let bus = try EmbeddedBus(database: database)
        let triggers = TriggerHost(
            bus: bus, states: try SQLTriggerStateStore(database: database), catalog: PluginCatalog(),
            connections: ConnectionStore(), workflows: [])
        let port = AsyncStream<Int>.makeStream()
        let app = PipelineHTTP.application(
            host: "127.0.0.1", port: 0, serverName: "test", metrics: PipelineMetrics(), triggers: triggers,
            logger: Logger(label: "test")
        ) { port.continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var ports = port.stream.makeAsyncIterator()
            let listening = try #require(await ports.next())
            let outcome = try await OffPool.run { try SlowUpload.run(port: listening) }
            #expect(outcome.response.hasPrefix("HTTP/1.1 413"), "\(outcome.response)")
            #expect(outcome.closed, "after the 413 the server read \(outcome.sentAfterResponse) more bytes of the body")
        }
    }
}

/// A blocking client that declares a 256 MiB body and sends it 64 KiB at a time until it has the answer, then goes
/// on sending until the server closes the connection or the declared body is all sent.
enum SlowUpload {
    struct Outcome: Sendable {
        var response: String
        var closed: Bool
        var sentAfterResponse: Int
    }

    static let declared = 256 * 1024 * 1024

    static func run(port: Int) throws -> Outcome {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        // Bounds a hang (a server that neither reads nor closes): a timed-out send is not a closed connection.
        var limit = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let head = "POST /dispatcher/token HTTP/1.1\r\nHost: test\r\nContent-Length: \(declared)\r\n\r\n"
        guard sendAll(socket, Array(head.utf8)) else { throw POSIXError(.EPIPE) }
        let chunk = [UInt8](repeating: 0x7B, count: 64 * 1024)
        var sent = 0
        var response = ""
        var sentAfterResponse = 0
        while sent < declared {
            if response.isEmpty, let answer = readIfReady(socket) {
                if answer.isEmpty { return Outcome(response: "", closed: true, sentAfterResponse: 0) }
                response = answer
            }
            guard sendAll(socket, chunk) else {
                let closed = errno == EPIPE || errno == ECONNRESET
                return Outcome(
                    response: response.isEmpty ? (readIfReady(socket) ?? "") : response, closed: closed,
                    sentAfterResponse: sentAfterResponse)
            }
            sent += chunk.count
            if !response.isEmpty { sentAfterResponse += chunk.count }
        }
        return Outcome(response: response, closed: false, sentAfterResponse: sentAfterResponse)
    }

    /// MSG_NOSIGNAL: a closed connection is an error here, not a SIGPIPE that ends the test process.
    static func sendAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    /// What the server sent, when it sent something (empty at end of stream); nil when nothing is waiting.
    static func readIfReady(_ socket: Int32) -> String? {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(socket, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }
}
