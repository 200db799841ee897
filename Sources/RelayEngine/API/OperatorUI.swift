import Foundation
import HTTPTypes
import Hummingbird

/// The operator's web UI (docs/ui.md): three static files in the repository (`Sources/RelayEngine/UI`, resources of
/// this module), served by the process that serves the API: `/` the page, `/ui/app.js` and `/ui/app.css`. No
/// token is needed for them: they hold no data, which the page reads from `/api/v1` with the token it is signed in
/// with. The files are read once, when the routes are added.
///
/// Every answer carries a Content-Security-Policy that lets the page load only these files and talk only to its own
/// server (no inline script, no other origin), and `Referrer-Policy: no-referrer`, since the first address may carry
/// `?token=` until the page has removed it.
public enum OperatorUI {
    /// A file of the UI: where it is served, its name among the resources, and its type.
    struct Asset: Sendable {
        let route: String
        let name: String
        let fileExtension: String
        let contentType: String
    }

    static let assets = [
        Asset(route: "/", name: "index", fileExtension: "html", contentType: "text/html; charset=utf-8"),
        Asset(route: "/ui/app.js", name: "app", fileExtension: "js", contentType: "text/javascript; charset=utf-8"),
        Asset(route: "/ui/app.css", name: "app", fileExtension: "css", contentType: "text/css; charset=utf-8"),
    ]

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// The text of an asset as shipped; nil when the build lacks it.
    static func contents(of asset: Asset) -> String? {
        Bundle.module.url(forResource: asset.name, withExtension: asset.fileExtension, subdirectory: "UI")
            .flatMap { try? String(contentsOf: $0, encoding: .utf8) }
    }

    /// Adds the UI's routes to `router`.
    public static func addRoutes(to router: Router<BasicRequestContext>) {
        for asset in assets {
            // Read once: the files do not change while the process runs.
            let body = contents(of: asset).map { ByteBuffer(string: $0) }
            router.get(RouterPath(asset.route)) { _, _ -> Response in
                guard let body else {
                    let missing = "this build of Relay lacks the web UI's \(asset.name).\(asset.fileExtension)\n"
                    return Response(
                        status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: missing)))
                }
                return Response(
                    status: .ok, headers: headers(contentType: asset.contentType), body: .init(byteBuffer: body))
            }
        }
    }

    static func headers(contentType: String) -> HTTPFields {
        var headers: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-cache", .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
        ]
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return headers
    }
}
