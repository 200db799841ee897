import Foundation
import RelayCore

/// The OpenAPI 3.1 document of the operator's API (`Sources/RelayEngine/API/openapi.json`, served at
/// `GET /api/v1/openapi.json`); a test keeps it equal to what the server does.
public enum OpenAPIDocument {
    /// The document's text as shipped.
    public static let text: String? = Bundle.module.url(forResource: "openapi", withExtension: "json")
        .flatMap { try? String(contentsOf: $0, encoding: .utf8) }

    /// The document, parsed; nil when it cannot be read (a broken build).
    public static let json: JSONValue? = text.flatMap { try? JSONParser.parse($0) }
}
