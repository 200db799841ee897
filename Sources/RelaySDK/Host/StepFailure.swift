/// Why a step failed before or around the plugin's own code, classified as the runtime does: a client error
/// (bad input, bad connection parameters: HTTP 400) or a server error (anything unexpected: HTTP 500).
enum StepFailure: Error, Sendable {
    case client(String)
    case server(String)
}
