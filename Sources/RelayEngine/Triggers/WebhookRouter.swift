import RelaySDK
import Synchronization

/// Webhook paths to the inboxes of running webhook triggers, each with the signature check of its connection
/// (nil: unsigned). The trigger host registers a path when the instance starts and removes it when it ends.
public final class WebhookRouter: Sendable {
    public struct Route: Sendable {
        public let inbox: WebhookInbox
        /// nil for a webhook without a connection: every request is accepted.
        public let signature: WebhookSignature?
    }

    private let routes = Mutex<[String: Route]>([:])

    func register(path: String, inbox: WebhookInbox, signature: WebhookSignature? = nil) {
        routes.withLock { $0[path] = Route(inbox: inbox, signature: signature) }
    }
    func unregister(inbox: WebhookInbox) { routes.withLock { $0 = $0.filter { $0.value.inbox !== inbox } } }

    public func route(for path: String) -> Route? { routes.withLock { $0[path] } }
    public func inbox(for path: String) -> WebhookInbox? { route(for: path)?.inbox }
    public var paths: [String] { routes.withLock { $0.keys.sorted() } }
}
