import RelayCore

/// A chat app of InsightConnect's chat-ops (`chatOpsAppName`), and the plugin action that posts its messages in
/// Relay when that plugin's spec is in `--specs`.
struct ChatOpsApp {
    /// The plugin (its spec is `<specs>/<plugin>/plugin.spec.yaml`).
    var plugin: String
    /// The action that posts a message.
    var action: String
    /// The chat-ops step's inputs (`recipient`, `message`, `thread_ts`, `attachments`) → the action's, where they
    /// are named otherwise.
    var inputs: [String: String] = [:]
    /// Inputs the action needs that a chat-ops step has no value for (a gap to fill in).
    var missing: [String] = []

    /// InsightConnect's Slack app posts with `post_message` (a chat-ops decision with `post_interactive_message`);
    /// exports name no other app. Slack's spec is not in the public corpus. Microsoft Teams' plugin sends with
    /// `send_message` to a team's channel: the recipient is taken as the channel, and the team is to fill in.
    static let known: [String: ChatOpsApp] = [
        "slack": ChatOpsApp(plugin: "slack", action: "post_message"),
        "microsoft_teams": ChatOpsApp(
            plugin: "microsoft_teams", action: "send_message",
            inputs: ["recipient": "channel_name", "thread_ts": "thread_id"], missing: ["team_name"]),
    ]

    /// The app of a chat-ops step: a known one, else a plugin of the app's name with an action of the step's.
    static func of(name: String?, identifier: String?) -> ChatOpsApp {
        let name = name ?? "slack"
        return known[name] ?? ChatOpsApp(plugin: name, action: identifier ?? "post_message")
    }

    /// A chat-ops step's input in the action's names.
    func input(_ chatOps: JSONValue) -> JSONValue {
        var out = JSONObject()
        for (key, value) in chatOps.objectValue ?? [:] { out[inputs[key] ?? key] = value }
        return .object(out)
    }
}
