import RelayCore
import RelaySDK

/// `webhook/webhook`: one event per HTTP request to `/webhooks/<path>`, served by the trigger's host.
struct WebhookTrigger: PluginTrigger {
    typealias Connection = NoConnection
    static let name = "webhook"

    struct Input: Decodable, Sendable {
        var path: String
    }

    struct Event: Encodable, Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var query: [String: String]
        var body: String
        var json: JSONValue?
    }

    func run(_ input: Input, context: TriggerContext<NoConnection, Event>) async throws {
        guard let inbox = context.webhook else {
            throw PluginError(
                cause: "This host serves no webhooks.",
                assistance:
                    "Run the webhook trigger under relay up or relay triggers, which serve /webhooks/\(input.path).")
        }
        context.logger.info("listening for webhook requests on /webhooks/\(input.path)")
        for await request in inbox.requests {
            var json: JSONValue?
            // The host has answered 400 to a body beyond the limits already; what is not JSON stays text only.
            if let parsed = try? WebhookRequest.json(fromBody: request.body), case .object = parsed { json = parsed }
            let event = Event(
                method: request.method, path: request.path, headers: request.headers, query: request.query,
                body: request.body, json: json)
            do {
                // With an Idempotency-Key (checked by the host), the event's id is the key's: a repeat starts no run.
                if let key = request.headers[WebhookIdempotency.header], WebhookIdempotency.problem(key) == nil {
                    try await context.send(event, position: WebhookIdempotency.position(key))
                } else {
                    try await context.send(event)
                }
                request.complete(accepted: true)
            } catch {
                request.complete(accepted: false)
                throw error
            }
        }
    }
}
