import Foundation
import HTTPTypes
import Hummingbird
import RelayCore

/// An error of the operator's API as clients get it: the status, and `{"error": {"code", "message"}}`, the message
/// saying what was expected, what was found, and where.
public struct APIError: HTTPResponseError, Sendable {
    public enum Code: String, Sendable, CaseIterable {
        case badRequest = "bad_request"
        case invalidJSON = "invalid_json"
        case unauthorized
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case unavailable
        case `internal`

        var status: HTTPResponse.Status {
            switch self {
            case .badRequest, .invalidJSON: .badRequest
            case .unauthorized: .unauthorized
            case .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .conflict: .conflict
            case .payloadTooLarge: .contentTooLarge
            case .unsupportedMediaType: .unsupportedMediaType
            case .unavailable: .serviceUnavailable
            case .internal: .internalServerError
            }
        }
    }

    public var code: Code
    public var message: String
    public var status: HTTPResponse.Status { code.status }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var json: JSONValue { ["error": ["code": .string(code.rawValue), "message": .string(message)]] }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = APIResponse.json(json, status: status)
        if code == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"relay\"" }
        return response
    }
}

/// The API's responses: JSON, UTF-8.
public enum APIResponse {
    public static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeBytes(JSONWriter.compact.bytes(value))
        buffer.writeString("\n")
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
    }
}

/// Turns every error a route throws into the API's error form: an `APIError` as it is; anything else (a store that
/// could not be read) as 500 with its description, logged.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            // Hummingbird's own (a route not found, a body over the limit).
            let code: APIError.Code =
                switch error.status {
                case .notFound: .notFound
                case .contentTooLarge: .payloadTooLarge
                case .methodNotAllowed: .methodNotAllowed
                case .unsupportedMediaType: .unsupportedMediaType
                case .unauthorized: .unauthorized
                default: error.status.code < 500 ? .badRequest : .internal
                }
            throw APIError(code, error.body ?? error.status.reasonPhrase)
        } catch {
            context.logger.error(
                "\(request.method.rawValue) \(request.uri.path): \(error)",
                metadata: ["http.path": "\(request.uri.path)"])
            throw APIError(.internal, "\(error)")
        }
    }
}
