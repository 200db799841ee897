import HTTPTypes
import Hummingbird

/// Every route under `/api` requires `Authorization: Bearer TOKEN` with a token `verify` accepts (the project's
/// tokens, `relay tokens`): anything else is 401 saying what was expected and what was found (never the token).
struct APIAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let verify: @Sendable (String) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization] else {
            throw APIError(
                .unauthorized,
                "expected an Authorization header \"Bearer TOKEN\" (relay tokens create NAME makes a token); "
                    + "found none")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(
                .unauthorized,
                "expected an Authorization header \"Bearer TOKEN\"; found the scheme \""
                    + "\(parts.first.map { String($0.prefix(20)) } ?? "")\"")
        }
        guard verify(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw APIError(
                .unauthorized, "the bearer token is not one of this project's tokens (revoked, or never created)")
        }
        return try await next(request, context)
    }

    /// The token of a request's `Authorization: Bearer` header, or nil.
    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }
}
