import RelayCore
import Synchronization

/// One HTTP request addressed to a webhook trigger.
public struct WebhookRequest: Sendable {
    public var method: String
    public var path: String
    public var headers: [String: String]
    public var query: [String: String]
    /// The body as text.
    public var body: String
    let completion: @Sendable (Bool) -> Void

    public init(
        method: String, path: String, headers: [String: String], query: [String: String], body: String,
        completion: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.method = method
        self.path = path
        self.headers = headers
        self.query = query
        self.body = body
        self.completion = completion
    }

    /// Tells the HTTP client whether the request became an event (202) or not (500).
    public func complete(accepted: Bool) { completion(accepted) }
}

/// Where a host delivers webhook requests to a running webhook trigger. `deliver` returns once the trigger has
/// turned the request into an event (true) or failed to (false), so the HTTP answer can say so.
public final class WebhookInbox: Sendable {
    private let stream: AsyncStream<WebhookRequest>
    private let continuation: AsyncStream<WebhookRequest>.Continuation

    public init(buffer: Int = 1024) {
        (stream, continuation) = AsyncStream.makeStream(
            of: WebhookRequest.self, bufferingPolicy: .bufferingNewest(buffer))
    }

    /// The requests, in arrival order, for the trigger to consume.
    public var requests: AsyncStream<WebhookRequest> { stream }

    public func deliver(
        method: String, path: String, headers: [String: String], query: [String: String], body: String
    ) async -> Bool {
        await withCheckedContinuation { (answer: CheckedContinuation<Bool, Never>) in
            let once = Mutex(false)
            let request = WebhookRequest(method: method, path: path, headers: headers, query: query, body: body) {
                accepted in
                let first = once.withLock { done -> Bool in
                    defer { done = true }
                    return !done
                }
                if first { answer.resume(returning: accepted) }
            }
            if case .enqueued = continuation.yield(request) { return }
            request.complete(accepted: false)
        }
    }

    public func finish() { continuation.finish() }
}

extension WebhookRequest {
    /// The body read as JSON, within the limits of a trigger event's payload (it becomes the event's `json`):
    /// `nil` when the body is not JSON (a webhook takes any body); an error when it is JSON beyond `JSONLimits`
    /// (nested too deep, an integer of too many digits, a number beyond a double's range), which a host answers
    /// with 400 rather than accept something it cannot carry.
    public static func json(fromBody body: String) throws(JSONParseError) -> JSONValue? {
        var parser = JSONParser(body)
        // The event puts the body one level down (`output.json`).
        parser.maximumDepth = JSONLimits.maximumPayloadDepth - 1
        do {
            let value = try parser.parseValue()
            return parser.atEnd() ? value : nil
        } catch  where error.kind == .syntax {
            return nil
        }
    }
}
