import Foundation
import RelayEngine
import Synchronization
import Testing

/// The warm runner's HTTP client against a small HTTP/1.1 server on loopback (blocking sockets on threads of its
/// own), which counts the connections it accepts.
@Suite struct PluginHTTPClientTests {
    @Test func requestsReuseOneKeepAliveConnection() async throws {
        let server = try LoopbackHTTPStub { _, body in .init(body: body) }
        defer { server.stop() }
        let client = PluginHTTPClient(port: server.port)
        defer { client.close() }
        for text in ["one", "two", "three"] {
            let response = try await client.request(.POST, "/echo", body: Array(text.utf8), timeout: .seconds(10))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == text)
        }
        #expect(server.accepted == 1, "three requests in a row over one connection")
    }

    @Test func aConnectionTheServerClosesIsNotReused() async throws {
        let server = try LoopbackHTTPStub { _, body in .init(body: body, close: true) }
        defer { server.stop() }
        let client = PluginHTTPClient(port: server.port)
        defer { client.close() }
        for text in ["one", "two"] {
            let response = try await client.request(.POST, "/echo", body: Array(text.utf8), timeout: .seconds(10))
            #expect(String(decoding: response.body, as: UTF8.self) == text)
        }
        #expect(server.accepted == 2)
    }

    /// The answer comes 30 s later: a client that waited for it would get it (and no timeout); this one gives up
    /// after its 200 ms. (No bound on the time taken is asserted: a loaded machine may take longer to get there.)
    @Test func aLateAnswerIsATimeout() async throws {
        let server = try LoopbackHTTPStub { _, body in .init(body: body, delay: 30) }
        defer { server.stop() }
        let client = PluginHTTPClient(port: server.port)
        defer { client.close() }
        await #expect {
            _ = try await client.request(.POST, "/slow", timeout: .milliseconds(200))
        } throws: { error in
            (error as? PluginHTTPClient.Failure)?.kind == .timeout
        }
    }

    @Test func aBodyOverTheLimitFailsTheRequest() async throws {
        let server = try LoopbackHTTPStub { _, _ in .init(body: Array(repeating: UInt8(ascii: "x"), count: 4096)) }
        defer { server.stop() }
        let client = PluginHTTPClient(port: server.port, maxResponseBytes: 1024)
        defer { client.close() }
        await #expect {
            _ = try await client.request(.GET, "/big", timeout: .seconds(10))
        } throws: { error in
            (error as? PluginHTTPClient.Failure)?.kind == .tooLarge
        }
    }

    @Test func nothingListeningIsAConnectionFailure() async throws {
        let client = PluginHTTPClient(port: try LoopbackPort.free())
        await #expect {
            _ = try await client.request(.GET, "/api/v1/status", timeout: .seconds(10))
        } throws: { error in
            (error as? PluginHTTPClient.Failure)?.kind == .connection
        }
    }
}

/// An HTTP/1.1 server on 127.0.0.1 with a handler per request (path, body): keep-alive unless the answer says
/// close; each connection on a thread of its own.
final class LoopbackHTTPStub: Sendable {
    struct Answer: Sendable {
        var body: [UInt8]
        var close = false
        /// Seconds to wait before answering.
        var delay: Double = 0
    }

    let port: Int
    private let listener: Int32
    private let handler: @Sendable (String, [UInt8]) -> Answer
    private let count = Mutex(0)

    /// Connections accepted so far.
    var accepted: Int { count.withLock { $0 } }

    init(handler: @escaping @Sendable (String, [UInt8]) -> Answer) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Stops accepting (connections already open end when their client closes them).
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { break }
            count.withLock { $0 += 1 }
            Thread.detachNewThread { [self] in serve(connection) }
        }
        close(listener)
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // The head, then Content-Length bytes of body.
            var headEnd: Int?
            while headEnd == nil {
                headEnd = buffer.indices.dropLast(3).first {
                    buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10
                }
                if headEnd == nil {
                    let read = recv(connection, &chunk, chunk.count, 0)
                    guard read > 0 else { return }
                    buffer += chunk[0..<read]
                }
            }
            let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            let length =
                lines.first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let bodyStart = headEnd! + 4
            while buffer.count < bodyStart + length {
                let read = recv(connection, &chunk, chunk.count, 0)
                guard read > 0 else { return }
                buffer += chunk[0..<read]
            }
            let body = Array(buffer[bodyStart..<bodyStart + length])
            buffer.removeFirst(bodyStart + length)
            let answer = handler(path, body)
            if answer.delay > 0 { Thread.sleep(forTimeInterval: answer.delay) }
            var response =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(answer.body.count)\r\n"
            if answer.close { response += "Connection: close\r\n" }
            let bytes = Array((response + "\r\n").utf8) + answer.body
            guard
                bytes.withUnsafeBytes({ send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) })
                    == bytes.count
            else { return }
            if answer.close { return }
        }
    }
}
