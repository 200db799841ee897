import Foundation
import HTTPTypes
import Hummingbird

/// The operator's web UI (docs/ui.md): static files in the repository (`Sources/RelayEngine/UI`, resources of this
/// module), served by the process that serves the API: `/` the page (`index.html`), `/ui/NAME` every other file of
/// the directory (the page's modules and its style). No token is needed for them: they hold no data, which the page
/// reads from `/api/v1` with the token it is signed in with. The files are read once, when the routes are added.
///
/// `RELAY_UI_DIR=DIR` serves the files from DIR instead, read at each request: for working on the UI without
/// building Relay again.
///
/// Every answer carries a Content-Security-Policy that lets the page load only these files and talk only to its own
/// server (no inline script, no other origin), and `Referrer-Policy: no-referrer`, since the first address may carry
/// `?token=` until the page has removed it.
public enum OperatorUI {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// The types of the files served; a file of another kind in the directory is not served.
    static let contentTypes = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
    ]

    /// The content type of a file the UI may serve under this name (letters, digits, `-`, `_` and one extension),
    /// nil for any other name: nothing outside the directory can be named.
    static func contentType(of name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty,
            parts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        return contentTypes[String(parts[1])]
    }

    /// Where the files are read: the module's resources, or `RELAY_UI_DIR`.
    enum Source {
        case bundled([String: ByteBuffer])
        case directory(URL)

        static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> Source {
            if let directory = environment["RELAY_UI_DIR"], !directory.isEmpty {
                return .directory(URL(fileURLWithPath: directory, isDirectory: true))
            }
            var files: [String: ByteBuffer] = [:]
            if let folder = Bundle.module.url(forResource: "UI", withExtension: nil),
                let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
            {
                for name in names where contentType(of: name) != nil {
                    if let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) {
                        files[name] = ByteBuffer(bytes: data)
                    }
                }
            }
            return .bundled(files)
        }

        func file(_ name: String) -> ByteBuffer? {
            guard contentType(of: name) != nil else { return nil }
            switch self {
            case .bundled(let files): return files[name]
            case .directory(let folder):
                return FileManager.default.contents(atPath: folder.appendingPathComponent(name).path)
                    .map { ByteBuffer(bytes: $0) }
            }
        }
    }

    /// Adds the UI's routes to `router`.
    public static func addRoutes(to router: Router<BasicRequestContext>) {
        let source = Source.current()
        router.get("/") { _, _ -> Response in
            serve("index.html", from: source)
        }
        router.get("/ui/{file}") { _, context -> Response in
            serve(context.parameters.get("file") ?? "", from: source)
        }
    }

    static func serve(_ name: String, from source: Source) -> Response {
        guard let type = contentType(of: name), let body = source.file(name) else {
            let text =
                name == "index.html"
                ? "this build of Relay lacks the web UI's index.html\n" : "the web UI has no file named \(name)\n"
            return Response(
                status: name == "index.html" ? .internalServerError : .notFound,
                headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return Response(status: .ok, headers: headers(contentType: type), body: .init(byteBuffer: body))
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
