import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP reply as tests read it.
public struct HTTPReply: Sendable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: Data
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// One server-sent event.
public struct ServerSentEvent: Sendable, Equatable {
    public var id: String?
    public var event: String
    public var data: String
}

/// HTTP over real sockets for tests: requests through URLSession, and server-sent event streams read from a raw
/// socket (URLSession on Linux hands a streamed body over only at its end).
public enum TestHTTP {
    public static func send(
        _ method: String, _ url: String, headers: [String: String] = [:], body: Data? = nil
    ) async throws -> HTTPReply {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] {
            fields[String(describing: name).lowercased()] = String(describing: value)
        }
        return HTTPReply(status: http?.statusCode ?? 0, headers: fields, body: data)
    }

    /// Reads the event stream at `path` until `done` holds for the events so far (or `seconds` pass); returns the
    /// events and the status line.
    public static func events(
        port: Int, path: String, headers: [String: String] = [:], seconds: Double = 60,
        until done: @escaping @Sendable ([ServerSentEvent]) -> Bool
    ) async throws -> (status: String, events: [ServerSentEvent]) {
        try await OffPool.run {
            try readEvents(port: port, path: path, headers: headers, seconds: seconds, until: done)
        }
    }

    static func readEvents(
        port: Int, path: String, headers: [String: String], seconds: Double, until done: ([ServerSentEvent]) -> Bool
    ) throws -> (status: String, events: [ServerSentEvent]) {
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
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8)
        guard
            bytes.withUnsafeBytes({ Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count
        else { throw POSIXError(.EPIPE) }
        var limit = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(seconds)
        var received: [UInt8] = []
        var status = ""
        var events: [ServerSentEvent] = []
        while Date() < deadline {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            let count = recv(socket, &buffer, buffer.count, 0)
            if count == 0 { break }
            if count > 0 { received += buffer[..<count] }
            let text = String(decoding: received, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            status = String(text[..<end.lowerBound].split(separator: "\r\n").first ?? "")
            events = parse(dechunk(String(text[end.upperBound...])))
            if done(events) { break }
        }
        return (status, events)
    }

    /// The body of a chunked response as far as it has come (a chunk cut short is left out).
    static func dechunk(_ text: String) -> String {
        var rest = Substring(text)
        var body = ""
        while let line = rest.range(of: "\r\n") {
            guard let size = Int(rest[..<line.lowerBound].trimmingCharacters(in: .whitespaces), radix: 16), size > 0
            else { break }
            let start = line.upperBound
            let utf8 = rest.utf8
            guard utf8.distance(from: start, to: utf8.endIndex) >= size + 2 else { break }
            let end = utf8.index(start, offsetBy: size)
            body += String(rest[start..<end])
            rest = rest[utf8.index(end, offsetBy: 2)...]
        }
        return body
    }

    /// The complete events of a stream's text (comments and `retry:` lines left out).
    static func parse(_ text: String) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        var blocks = text.components(separatedBy: "\n\n")
        blocks.removeLast() // Not complete yet (or empty).
        for block in blocks {
            var id: String?
            var event = "message"
            var data: [String] = []
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            if !data.isEmpty {
                events.append(ServerSentEvent(id: id, event: event, data: data.joined(separator: "\n")))
            }
        }
        return events
    }
}
