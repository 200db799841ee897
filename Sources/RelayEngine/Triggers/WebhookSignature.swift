import Crypto
import RelayCore

/// The check of a signed webhook: GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
/// with the secret of the webhook trigger's connection (`parameters.secret`, a sealed `credential_secret_key`).
public struct WebhookSignature: Sendable {
    public static let header = "X-Hub-Signature-256"

    /// Why a request was refused; `reason` labels the rejection metric, `message` is the 401's (it names what was
    /// expected and what was found, never the secret or the expected signature).
    public enum Rejection: Sendable, Equatable {
        case missing
        case malformed
        case mismatch

        public var reason: String {
            switch self {
            case .missing: "signature_missing"
            case .malformed: "signature_malformed"
            case .mismatch: "signature_mismatch"
            }
        }
    }

    /// The connection whose secret signs the requests, for messages.
    public let connection: String
    /// The secret's bytes (SymmetricKey is not Sendable here; one is made for each check).
    private let secret: [UInt8]

    public init(secret: String, connection: String) {
        self.connection = connection
        self.secret = Array(secret.utf8)
    }

    /// The check for a webhook trigger bound to `connection` with opened `parameters`: nil without a connection
    /// (unsigned webhooks); an error naming the connection when it holds no secret (a connection on a webhook
    /// exists to sign it: silently accepting unsigned requests would be worse than not starting).
    public init?(connection: String?, parameters: JSONValue) throws {
        guard let connection else { return nil }
        guard let secret = parameters["secret"]?["secretKey"]?.stringValue, !secret.isEmpty else {
            throw RelayError(
                .configuration,
                "connection \"\(connection)\" of a webhook trigger holds no secret: expected parameters.secret "
                    + #"({"secretKey": "…"}, added with relay connections add \#(connection) --plugin webhook)"#)
        }
        self.init(secret: secret, connection: connection)
    }

    /// nil when `header` (the `X-Hub-Signature-256` value) is the HMAC of `body`; the comparison takes the same
    /// time wherever the signatures differ.
    public func check(header: String?, body: [UInt8]) -> Rejection? {
        guard let header else { return .missing }
        guard let signature = Self.digest(header) else { return .malformed }
        return HMAC<SHA256>.isValidAuthenticationCode(
            signature, authenticating: body, using: SymmetricKey(data: secret)) ? nil : .mismatch
    }

    /// The signature's bytes: `sha256=` and 64 hex digits.
    static func digest(_ header: String) -> [UInt8]? {
        guard header.hasPrefix("sha256="), let bytes = Hex.bytes(header.dropFirst("sha256=".count)), bytes.count == 32
        else { return nil }
        return bytes
    }

    /// The `X-Hub-Signature-256` value for `body` (tests and clients).
    public func header(for body: [UInt8]) -> String {
        "sha256=" + Hex.string(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret)))
    }

    /// What a 401 says.
    public func message(for rejection: Rejection, found header: String?) -> String {
        let expected =
            "expected \(Self.header): sha256=<hex HMAC-SHA256 of the body, keyed with the secret of connection "
            + "\"\(connection)\">"
        switch rejection {
        case .missing:
            return "this webhook is signed: \(expected), found no such header"
        case .malformed:
            // The header is the client's own; cut short so that a huge one does not make a huge answer.
            let found = String((header ?? "").prefix(100))
            return "\(expected), found \(JSONWriter.compact.string(.string(found))) (not sha256= and 64 hex digits)"
        case .mismatch:
            return
                "\(Self.header) does not match the body: \(expected) (the body must be signed as sent, byte for byte)"
        }
    }
}
