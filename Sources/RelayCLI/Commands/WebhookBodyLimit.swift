/// `--webhook-body-limit BYTES` of `relay up` and `relay triggers` (env RELAY_WEBHOOK_BODY_LIMIT), checked: a
/// whole number of bytes from 1 to 1 GiB.
enum WebhookBodyLimit {
    static let most = 1 << 30

    static func bytes(_ text: String) throws -> Int {
        guard let bytes = Int(text), (1...most).contains(bytes) else {
            throw CLIFailure(
                "--webhook-body-limit: expected a number of bytes from 1 to \(most) (1 MiB is 1048576), "
                    + "found \"\(text)\""
            )
        }
        return bytes
    }
}
