import HTTPTypes
import Hummingbird

/// Every route under `/api` requires `Authorization: Bearer TOKEN` with a token `verify` accepts (the project's
/// tokens, `relay tokens`): anything else is 401 saying what was expected and what was found (never the token).
struct APIAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let verify: @Sendable (String) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        switch Self.credential(request) {
        case .none:
            throw APIError(
                .unauthorized,
                "expected an Authorization header \"Bearer TOKEN\" (relay tokens create NAME makes a token); "
                    + "found none")
        case .otherScheme(let scheme):
            throw APIError(
                .unauthorized,
                "expected an Authorization header \"Bearer TOKEN\"; found the scheme \"\(scheme.prefix(20))\"")
        case .bearer(let token):
            guard verify(token) else {
                throw APIError(
                    .unauthorized, "the bearer token is not one of this project's tokens (revoked, or never created)")
            }
        }
        return try await next(request, context)
    }

    /// What a request's `Authorization` header holds.
    enum Credential: Equatable {
        case none
        /// A scheme other than Bearer (or a header without a credential).
        case otherScheme(String)
        case bearer(String)
    }

    static func credential(_ request: Request) -> Credential {
        guard let header = request.headers[.authorization] else { return .none }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .otherScheme(parts.first.map(String.init) ?? "")
        }
        return .bearer(String(parts[1]).trimmingCharacters(in: .whitespaces))
    }

    /// The token of a request's `Authorization: Bearer` header, or nil.
    static func bearerToken(_ request: Request) -> String? {
        if case .bearer(let token) = credential(request) { return token }
        return nil
    }
}
