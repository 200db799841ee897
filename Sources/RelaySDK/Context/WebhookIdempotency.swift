/// A webhook request's `Idempotency-Key` header: the sender's name for the request, the same when it sends it again
/// (a retry after a timeout, a load balancer's second try on another trigger host). The webhook trigger makes it its
/// event's position, so the event's id is `instance@key:KEY` and a repeat is a no-op at the dispatcher: one run per
/// key, however often it comes and to whichever host.
public enum WebhookIdempotency {
    /// The header's name as requests carry it (lowercased).
    public static let header = "idempotency-key"
    /// The longest key, in bytes.
    public static let maximumBytes = 200

    /// What is wrong with `key`, or nil.
    public static func problem(_ key: String) -> String? {
        let bytes = key.utf8.count
        guard (1...maximumBytes).contains(bytes) else {
            return "Idempotency-Key: expected 1 to \(maximumBytes) bytes, found \(bytes)"
        }
        return nil
    }

    /// The event position of a request with this key.
    public static func position(_ key: String) -> String { "key:" + key }
}
