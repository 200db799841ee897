import HTTPTypes
import Hummingbird
import RelayCore

/// Reading a request's JSON body within limits: a declared length over the limit is refused before anything is
/// read (413), a body that turns out longer is refused when the limit is reached (413), a body of another type is
/// refused (415), and one that is not JSON is refused naming the line and column (400).
enum APIRequestBody {
    /// The body as JSON; nil when the request has none (no `Content-Length`, or 0, and not chunked).
    static func json(_ request: Request, limit: Int) async throws -> JSONValue? {
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        let chunked = request.headers[.transferEncoding]?.lowercased().contains("chunked") ?? false
        if declared == nil && !chunked || declared == 0 { return nil }
        if let declared, declared > limit {
            throw APIError(
                .payloadTooLarge, "the body is \(declared) bytes; the largest this route accepts is \(limit) bytes")
        }
        let type = request.headers[.contentType] ?? ""
        let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard mediaType == "application/json" else {
            throw APIError(
                .unsupportedMediaType,
                "expected a body of Content-Type application/json, found "
                    + (type.isEmpty ? "no Content-Type" : "\"\(type.prefix(100))\""))
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.payloadTooLarge, "the body is longer than \(limit) bytes, the largest this route accepts")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes: Array(buffer.readableBytesView))
        } catch {
            throw APIError(.invalidJSON, "the body is not valid JSON: \(error)")
        }
        if let problem = value.payloadProblem(at: "body") { throw APIError(.invalidJSON, problem) }
        return value
    }

    /// The body as a JSON object (`{}` when there is none).
    static func object(_ request: Request, limit: Int) async throws -> JSONObject {
        guard let value = try await json(request, limit: limit) else { return [:] }
        guard let object = value.objectValue else {
            throw APIError(.badRequest, "body: expected a JSON object, found \(value.typeName)")
        }
        return object
    }
}

extension JSONObject {
    /// The optional string field `name` of a request body; 400 when it is there and not a string.
    func apiString(_ name: String) throws -> String? {
        guard let value = self[name], value != .null else { return nil }
        guard let text = value.stringValue else {
            throw APIError(.badRequest, "body.\(name): expected a string, found \(value.typeName)")
        }
        return text
    }

    /// The string field `name` of a request body; 400 when it is missing or not a string.
    func apiRequiredString(_ name: String) throws -> String {
        guard let text = try apiString(name) else {
            throw APIError(.badRequest, "body.\(name): expected a string, found nothing")
        }
        return text
    }
}
