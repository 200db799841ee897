import Foundation
import Logging
import RelayCore
import RelayPlugins
import RelayStore
import RelayTestSupport
import Testing

@testable import RelayEngine

#if canImport(Glibc)
    import Glibc
#endif

/// Signed webhooks, the body limit and the JSON errors of `/webhooks/**`, over real sockets against `relay up`'s
/// pipeline: `signed` is bound to a connection whose sealed secret signs it, `open` has no connection.
@Suite struct WebhookSignatureTests {
    /// GitHub's documented example: this secret and body give this signature.
    static let secret = "It's a Secret to Everybody"
    static let githubSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

    struct Running {
        let port: Int
        let pipeline: EmbeddedPipeline
        let signature = WebhookSignature(secret: WebhookSignatureTests.secret, connection: "github")

        func post(
            _ path: String, body: String, headers: [String: String] = ["Content-Type": "application/json"]
        ) async throws -> RawHTTP.Response {
            try await OffPool.run {
                try RawHTTP.post(port: port, path: "/webhooks/\(path)", headers: headers, body: body)
            }
        }

        func signedPost(_ body: String) async throws -> RawHTTP.Response {
            try await post(
                "signed", body: body,
                headers: [
                    "Content-Type": "application/json", "X-Hub-Signature-256": signature.header(for: Array(body.utf8)),
                ])
        }

        /// The values of `trigger.json.n` of the runs of `workflow` so far.
        func numbers(of workflow: String) async throws -> Set<Int> {
            var numbers = Set<Int>()
            for summary in try await pipeline.store.runs(limit: 1000) where summary.workflow == workflow {
                if let n = try await pipeline.store.run(id: summary.id)?.triggerEvent["json"]?["n"]?.intValue {
                    numbers.insert(n)
                }
            }
            return numbers
        }
    }

    func withPipeline(bodyLimit: Int? = nil, _ body: (Running) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-signed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let layout = ProjectLayout(root: directory.path)
        try FileManager.default.createDirectory(atPath: layout.workflows, withIntermediateDirectories: true)
        for (name, connection) in [("signed", "connection: github, "), ("open", "")] {
            try """
            name: \(name)
            trigger: {plugin: webhook, trigger: webhook, \(connection)input: {path: \(name)}}
            steps:
              - {id: encode, plugin: base64, action: encode, input: {content: "{{ trigger.body }}"}}
            """.write(toFile: "\(layout.workflows)/\(name).yaml", atomically: true, encoding: .utf8)
        }
        let key = MasterKey.generate(source: layout.masterKey)
        try key.write(to: layout.masterKey)
        try ConnectionFile.write(
            ConnectionStore.Connection(
                name: "github", plugin: "webhook", parameters: ["secret": ["secretKey": .string(Self.secret)]],
                secretFields: ["secret"]),
            to: "\(layout.connections)/github.yaml", key: key)
        #expect(
            !(try String(contentsOfFile: "\(layout.connections)/github.yaml", encoding: .utf8)).contains(Self.secret))

        let project = try Project.load(directory: directory.path, native: try NativePlugins.all())
        var configuration = EmbeddedPipeline.Configuration()
        configuration.port = 0
        configuration.printRuns = false
        configuration.reloadInterval = .zero
        if let bodyLimit { configuration.webhookBodyLimit = bodyLimit }
        let pipeline = try EmbeddedPipeline(project: project, configuration: configuration)
        let ports = AsyncStream<Int>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run { ports.continuation.yield($0) } }
            defer { group.cancelAll() }
            var iterator = ports.stream.makeAsyncIterator()
            let running = Running(port: try #require(await iterator.next()), pipeline: pipeline)
            // Both paths answer once their trigger instances run (404 before): requests that make no event.
            #expect(
                await waitFor { (try? await running.post("signed", body: "{}", headers: [:]))?.status == 401 },
                "the signed webhook never answered 401 to an unsigned request")
            #expect(
                await waitFor {
                    (try? await running.post("open", body: "{", headers: ["Content-Type": "application/json"]))?
                        .status == 400
                }, "the open webhook never answered 400 to a malformed body")
            try await body(running)
        }
    }

    // MARK: - Signatures

    @Test func theSignatureIsGitHubs() {
        let signature = WebhookSignature(secret: Self.secret, connection: "github")
        #expect(signature.header(for: Array("Hello, World!".utf8)) == Self.githubSignature)
        #expect(signature.check(header: Self.githubSignature, body: Array("Hello, World!".utf8)) == nil)
        #expect(
            signature.check(header: Self.githubSignature.uppercased(), body: Array("Hello, World!".utf8)) == .malformed)
        #expect(signature.check(header: Self.githubSignature, body: Array("Hello, World?".utf8)) == .mismatch)
        #expect(signature.check(header: nil, body: []) == .missing)
    }

    @Test func aConnectionWithoutASecretIsAnError() throws {
        #expect(try WebhookSignature(connection: nil, parameters: [:]) == nil)
        let error = try #require(throws: RelayError.self) {
            try WebhookSignature(connection: "hooks", parameters: ["secret": ["secretKey": ""]])
        }
        #expect(error.message.contains(#"connection "hooks" of a webhook trigger holds no secret"#), "\(error.message)")
    }

    /// A correctly signed request becomes a run; a missing, malformed or wrong signature gets 401 with a JSON error
    /// saying which, and no run.
    @Test func aSignedWebhookAcceptsOnlyItsSignature() async throws {
        try await withPipeline { running in
            let accepted = try await running.signedPost(#"{"n": 1}"#)
            #expect(accepted.status == 202, "\(accepted)")

            let missing = try await running.post("signed", body: #"{"n": 2}"#)
            let malformed = try await running.post(
                "signed", body: #"{"n": 3}"#, headers: ["X-Hub-Signature-256": "sha1=0123abcd"])
            let otherSecret = WebhookSignature(secret: "not the secret", connection: "x")
            let wrong = try await running.post(
                "signed", body: #"{"n": 4}"#,
                headers: ["X-Hub-Signature-256": otherSecret.header(for: Array(#"{"n": 4}"#.utf8))])
            // Signed for another body.
            let replayed = try await running.post(
                "signed", body: #"{"n": 5}"#,
                headers: ["X-Hub-Signature-256": running.signature.header(for: Array(#"{"n": 1}"#.utf8))])
            for (response, says) in [
                (missing, "found no such header"), (malformed, #"found "sha1=0123abcd" (not sha256= and 64 hex"#),
                (wrong, "does not match the body"), (replayed, "does not match the body"),
            ] {
                #expect(response.status == 401, "\(response)")
                #expect(response.header("content-type") == "application/json; charset=utf-8", "\(response)")
                let error = try JSONParser.parse(response.body)["error"]
                #expect(error?["code"] == "unauthorized", "\(response.body)")
                let message = error?["message"]?.stringValue ?? ""
                #expect(message.contains(says), "expected the message to say \(says): \(message)")
                #expect(message.contains(#"connection "github""#), "\(message)")
                #expect(!response.raw.contains(Self.secret), "the answer contains the secret: \(response.raw)")
            }

            // The accepted request's run happens; none of the refused ones does.
            let last = try await running.signedPost(#"{"n": 6}"#)
            #expect(last.status == 202, "\(last)")
            #expect(await waitFor { (try? await running.numbers(of: "signed")) == [1, 6] })
            #expect(try await running.numbers(of: "signed") == [1, 6])
        }
    }

    /// Without a connection, a webhook takes every request, signed or not.
    @Test func anUnsignedWebhookAcceptsEveryRequest() async throws {
        try await withPipeline { running in
            #expect(try await running.post("open", body: #"{"n": 1}"#).status == 202)
            let signedAnyway = try await running.post(
                "open", body: #"{"n": 2}"#, headers: ["X-Hub-Signature-256": "sha256=00"])
            #expect(signedAnyway.status == 202, "\(signedAnyway)")
            #expect(await waitFor { (try? await running.numbers(of: "open")) == [1, 2] })
        }
    }

    /// A webhook sent again with the same `Idempotency-Key` (a client's retry, a load balancer's second try) is
    /// answered 202 and starts no second run; a key that is empty or too long is refused, saying why.
    @Test func anIdempotencyKeyMakesARepeatStartNoSecondRun() async throws {
        try await withPipeline { running in
            for (n, key) in [(1, "order-1"), (1, "order-1"), (2, "order-2")] {
                let response = try await running.post(
                    "open", body: #"{"n": \#(n)}"#,
                    headers: ["Content-Type": "application/json", "Idempotency-Key": key])
                #expect(response.status == 202, "\(response)")
            }
            // Events are taken in order: once the last one's run exists, the repeat before it has been seen.
            #expect(await waitFor { (try? await running.numbers(of: "open")) == [1, 2] })
            let runs = try await running.pipeline.store.runs(limit: 100).filter { $0.workflow == "open" }
            #expect(runs.count == 2, "one run per key: \(runs.map(\.id))")
            for key in ["", String(repeating: "k", count: 201)] {
                let refused = try await running.post(
                    "open", body: #"{"n": 3}"#, headers: ["Content-Type": "application/json", "Idempotency-Key": key])
                #expect(refused.status == 400, "\(refused)")
                #expect(
                    refused.body.contains("Idempotency-Key: expected 1 to 200 bytes, found \(key.utf8.count)"),
                    "\(refused.body)")
            }
        }
    }

    // MARK: - Bodies

    /// A declared length past the limit is refused before the body is sent: the answer comes while the client has
    /// sent 1 KiB of 64 MiB, and the connection is closed.
    @Test func aDeclaredLengthPastTheLimitIs413WithoutReadingTheBody() async throws {
        try await withPipeline(bodyLimit: 100_000) { running in
            for path in ["open", "signed"] {
                let response = try await OffPool.run {
                    try RawHTTP.declaredButNotSent(
                        port: running.port, path: "/webhooks/\(path)", declared: 64 << 20, sent: 1024)
                }
                #expect(response.status == 413, "\(response)")
                #expect(response.closed, "the server kept the connection open after its 413")
                let error = try JSONParser.parse(response.body)["error"]
                #expect(error?["code"] == "payload_too_large", "\(response.body)")
                #expect(
                    error?["message"]?.stringValue?.contains("larger than the webhook limit of 100000 bytes") == true,
                    "\(response.body)")
            }
        }
    }

    /// A chunked body (no declared length) is refused as soon as it goes past the limit, not read to its end.
    @Test func aChunkedBodyPastTheLimitIs413() async throws {
        try await withPipeline(bodyLimit: 100_000) { running in
            let outcome = try await OffPool.run {
                try RawHTTP.chunkedUpload(port: running.port, path: "/webhooks/open", most: 256 << 20)
            }
            #expect(outcome.response.status == 413, "\(outcome.response)")
            #expect(
                outcome.sent < 256 << 20,
                "the client sent the whole 256 MiB body: the server read on past its 413 instead of closing")
            let error = try JSONParser.parse(outcome.response.body)["error"]
            #expect(error?["code"] == "payload_too_large", "\(outcome.response.body)")
            // A body within the limit still passes.
            #expect(try await running.post("open", body: #"{"n": 7}"#).status == 202)
        }
    }

    /// Malformed JSON is 400 naming the line, column and byte offset; a body that is not JSON at all (by its
    /// content type and its first character) is text and is accepted.
    @Test(arguments: [
        (
            "{\"n\": 1,,}", "line 1, column 9 (byte 8): expected a string key in an object, found ',}'",
            "application/json"
        ),
        ("{\n  \"n\": 1\n  \"m\": 2\n}", "line 3, column 3 (byte 13): expected", "application/json"),
        ("[1, 2] 3", "line 1, column 8 (byte 7): expected end of input", "text/plain"),
        ("{\"n\": tru}", "line 1, column 7", "application/x-www-form-urlencoded"),
        ("not json at all", "line 1, column 1 (byte 0)", "application/vnd.github+json"),
    ])
    func malformedJSONIs400NamingThePosition(body: String, says: String, contentType: String) async throws {
        try await withPipeline { running in
            let response = try await running.post("open", body: body, headers: ["Content-Type": contentType])
            #expect(response.status == 400, "\(response)")
            let error = try JSONParser.parse(response.body)["error"]
            #expect(error?["code"] == "invalid_json", "\(response.body)")
            let message = error?["message"]?.stringValue ?? ""
            #expect(message.hasPrefix("the body is not valid JSON: "), "\(message)")
            #expect(message.contains(says), "expected the message to contain \(says): \(message)")
            let text = try await running.post("open", body: "just text, n=1", headers: ["Content-Type": "text/plain"])
            #expect(text.status == 202, "\(text)")
        }
    }

    @Test func anUnknownPathIs404InJSON() async throws {
        try await withPipeline { running in
            let response = try await running.post("nowhere", body: "{}")
            #expect(response.status == 404, "\(response)")
            let error = try JSONParser.parse(response.body)["error"]
            #expect(error?["code"] == "not_found", "\(response.body)")
            #expect(error?["message"] == "no webhook trigger listens on /webhooks/nowhere", "\(response.body)")
        }
    }
}

/// A blocking HTTP/1.1 client over a plain socket: what a test needs that URLSession hides (a declared length
/// that is never sent, chunked uploads, whether the server closed the connection).
enum RawHTTP {
    struct Response: Sendable, CustomStringConvertible {
        var status: Int
        var head: String
        var body: String
        /// The server closed the connection after its answer.
        var closed: Bool
        var raw: String { head + "\r\n\r\n" + body }
        var description: String { "\(status) closed=\(closed)\n\(raw)" }

        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            throw POSIXError(.ECONNREFUSED)
        }
        // Bounds a hang (a server that neither answers nor closes): the test then fails on a missing answer.
        var limit = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return socket
    }

    static func post(port: Int, path: String, headers: [String: String], body: String) throws -> Response {
        let socket = try connect(port: port)
        defer { close(socket) }
        var head = "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        guard SlowUpload.sendAll(socket, Array((head + "\r\n" + body).utf8)) else { throw POSIXError(.EPIPE) }
        return try read(socket)
    }

    /// Declares `declared` bytes, sends `sent`, then waits for the answer without sending more.
    static func declaredButNotSent(port: Int, path: String, declared: Int, sent: Int) throws -> Response {
        let socket = try connect(port: port)
        defer { close(socket) }
        let head =
            "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(declared)\r\n\r\n"
        guard SlowUpload.sendAll(socket, Array(head.utf8) + [UInt8](repeating: 0x20, count: sent)) else {
            throw POSIXError(.EPIPE)
        }
        return try read(socket)
    }

    /// Sends 64 KiB chunks until the server answers (then stops) or closes, or `most` bytes are sent.
    static func chunkedUpload(port: Int, path: String, most: Int) throws -> (response: Response, sent: Int) {
        let socket = try connect(port: port)
        defer { close(socket) }
        let head =
            "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n"
        guard SlowUpload.sendAll(socket, Array(head.utf8)) else { throw POSIXError(.EPIPE) }
        let chunk = Array("10000\r\n".utf8) + [UInt8](repeating: 0x20, count: 0x10000) + Array("\r\n".utf8)
        var sent = 0
        while sent < most {
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 { break }
            guard SlowUpload.sendAll(socket, chunk) else { break }
            sent += 0x10000
        }
        return (try read(socket), sent)
    }

    /// One answer: its head, then its body by Content-Length (or to the end of the stream); whether the server
    /// closed the connection after it.
    static func read(_ socket: Int32) throws -> Response {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var closed = false
        func receive() -> Bool {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 {
                closed = count == 0 || errno == ECONNRESET
                return false
            }
            bytes += buffer[..<count]
            return true
        }
        let separator = Array("\r\n\r\n".utf8)
        func headEnd() -> Int? {
            guard bytes.count >= 4 else { return nil }
            return (0...(bytes.count - 4)).first { bytes[$0..<($0 + 4)].elementsEqual(separator) }
        }
        while headEnd() == nil { guard receive() else { break } }
        guard let end = headEnd() else {
            throw RelayError(.io, "no HTTP answer (\(bytes.count) bytes: \(String(decoding: bytes, as: UTF8.self)))")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        var response = Response(
            status: Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0, head: head, body: "", closed: false)
        let length = response.header("content-length").flatMap { Int($0) }
        while length.map({ bytes.count - end - 4 < $0 }) ?? true { guard receive() else { break } }
        response.body = String(decoding: bytes[(end + 4)...], as: UTF8.self)
        if !closed, response.header("connection")?.lowercased() == "close" {
            // The answer is complete: the next read tells whether the server closed the connection.
            while receive() {}
        }
        response.closed = closed
        return response
    }
}
