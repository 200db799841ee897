import Hummingbird
import RelayCore
import RelaySDK

/// The webhook route and the external triggers' dispatcher endpoint. Their errors are JSON,
/// `{"error": {"code", "message"}}`: `not_found`, `payload_too_large`, `unauthorized`, `invalid_json`,
/// `not_published`. An answer given before the body is read whole says `Connection: close`, so the server drops
/// the connection instead of reading (and discarding) the rest (`CloseAfterResponseHandler`).
extension PipelineHTTP {
    /// A request to `/webhooks/<path>`, in this order: 404 when no trigger listens on the path; 413 when the
    /// declared length (`Content-Length`) exceeds `bodyLimit`, before a byte of the body is read, or when a chunked
    /// body goes past it, as soon as it does; 401 when the path is signed and the signature is missing, malformed
    /// or wrong; 400 when the body is JSON (by its `Content-Type`, or because it starts with `{` or `[`) that does
    /// not parse, naming the line, column and byte offset, or JSON beyond Relay's limits, and when an
    /// `Idempotency-Key` header is empty or longer than 200 bytes; else the event, 202.
    static func webhook(_ request: Request, router: WebhookRouter, metrics: PipelineMetrics, bodyLimit: Int)
        async throws -> Response
    {
        let path = String(request.uri.path.dropFirst("/webhooks/".count))
        // Unknown paths are not counted: the label would be whatever a scanner sends.
        guard let route = router.route(for: path) else {
            return errorResponse(.notFound, "not_found", "no webhook trigger listens on /webhooks/\(path)")
        }
        func reject(_ status: HTTPResponse.Status, _ code: String, reason: String, _ message: String, close: Bool)
            -> Response
        {
            metrics.webhookRejected(path: path, reason: reason)
            return errorResponse(status, code, message, close: close)
        }
        let tooLarge = "the body is larger than the webhook limit of \(bodyLimit) bytes"
        if let declared = request.headers[.contentLength], let length = Int(declared), length > bodyLimit {
            return reject(
                .contentTooLarge, "payload_too_large", reason: "payload_too_large",
                "\(tooLarge) (Content-Length: \(length))", close: true)
        }
        let signatureHeader = request.headers.first {
            $0.name.canonicalName == WebhookSignature.header.lowercased()
        }?.value
        if let signature = route.signature, signatureHeader == nil {
            // Refused before the body is read: there is nothing to check it against.
            return reject(
                .unauthorized, "unauthorized", reason: WebhookSignature.Rejection.missing.reason,
                signature.message(for: .missing, found: nil), close: true)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(limit: bodyLimit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return reject(.contentTooLarge, "payload_too_large", reason: "payload_too_large", tooLarge, close: true)
        }
        let bytes = Array(body.readableBytesView)
        if let signature = route.signature, let rejection = signature.check(header: signatureHeader, body: bytes) {
            return reject(
                .unauthorized, "unauthorized", reason: rejection.reason,
                signature.message(for: rejection, found: signatureHeader), close: false)
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        if let problem = jsonProblem(bytes, contentType: headers["content-type"]) {
            return reject(.badRequest, "invalid_json", reason: "invalid_json", problem, close: false)
        }
        if let key = headers[WebhookIdempotency.header], let problem = WebhookIdempotency.problem(key) {
            return reject(
                .badRequest, "invalid_idempotency_key", reason: "invalid_idempotency_key", problem, close: false)
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let accepted = await route.inbox.deliver(
            method: request.method.rawValue, path: request.uri.path, headers: headers, query: query,
            body: String(decoding: bytes, as: UTF8.self))
        guard accepted else {
            return errorResponse(
                .internalServerError, "not_published", "the event could not be published; see the server's log")
        }
        return Response(status: .accepted, body: .init(byteBuffer: ByteBuffer(string: "accepted\n")))
    }

    /// What is wrong with a webhook body as JSON, or nil. A body is taken for JSON when its content type says so
    /// (`application/json`, `…+json`) or it starts with `{` or `[`; any other body is text and is accepted as is.
    /// JSON within the payload limits (`WebhookRequest.json(fromBody:)`) is accepted.
    static func jsonProblem(_ bytes: [UInt8], contentType: String?) -> String? {
        let mediaType = (contentType ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        let declared = mediaType == "application/json" || mediaType?.hasSuffix("+json") == true
        let looksLikeJSON = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }.map {
            $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "[")
        }
        var parser = JSONParser(bytes: bytes)
        // The event puts the body one level down (`output.json`).
        parser.maximumDepth = JSONLimits.maximumPayloadDepth - 1
        do {
            _ = try parser.parseValue()
            guard !parser.atEnd() else { return nil }
            // Something after the value: the whole-document parser says where and what.
            _ = try JSONParser.parse(bytes: bytes)
            return nil
        } catch {
            if error.kind == .syntax, !declared, looksLikeJSON != true { return nil }
            let what =
                error.kind == .syntax ? "the body is not valid JSON" : "the body is JSON beyond what Relay accepts"
            return "\(what): line \(error.line), column \(error.column) (byte \(error.offset)): expected "
                + "\(error.expected), found \(error.found)"
        }
    }

    /// An external trigger's `trigger_event` for the run of the trigger `token` names: 200 once published, 404
    /// for a token no running trigger holds (it is not echoed), 400 for a body that is not JSON, 413 past
    /// `largestBody`.
    static func dispatch(_ request: Request, token: String, endpoint: DispatchEndpoint) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(limit: largestBody)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return errorResponse(
                .contentTooLarge, "payload_too_large", "the event is larger than \(largestBody) bytes", close: true)
        }
        let message: JSONValue
        do {
            message = try JSONParser.parse(bytes: Array(body.readableBytesView))
        } catch {
            return errorResponse(
                .badRequest, "invalid_json",
                "expected a v1 trigger_event (JSON): line \(error.line), column "
                    + "\(error.column) (byte \(error.offset)): expected \(error.expected), found \(error.found)")
        }
        guard try await endpoint.deliver(token: token, message: message) else {
            return errorResponse(
                .notFound, "not_found", "no running trigger holds this dispatcher token (it changes at each start)")
        }
        return Response(status: .ok)
    }

    /// `{"error": {"code", "message"}}` with `status`; with `close`, the connection is closed after the answer.
    static func errorResponse(_ status: HTTPResponse.Status, _ code: String, _ message: String, close: Bool = false)
        -> Response
    {
        // The API's error form (`APIError`), with the webhook's own codes.
        var response = APIResponse.json(
            ["error": ["code": .string(code), "message": .string(message)]], status: status)
        if close { response.headers[.connection] = "close" }
        return response
    }
}
