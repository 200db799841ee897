import Foundation
import RelayCore
import RelaySDK

// The example plugin: a connection, an action and a polling trigger with state. Read it top to bottom; its spec
// is Specs/hello.spec.yaml.

/// The connection: what every step of the plugin shares. Here, the greeting word (and an API key that a real
/// plugin would use to build its HTTP client).
struct HelloConnection: TestableConnection {
    struct Parameters: Decodable, Sendable {
        var greeting: String
        var apiKey: SecretKey?

        enum CodingKeys: String, CodingKey {
            case greeting
            case apiKey = "api_key"
        }
    }

    struct SecretKey: Decodable, Sendable {
        var secretKey: String
    }

    let greeting: String
    let apiKey: String?

    static func connect(_ parameters: Parameters, context: ConnectionContext) async throws -> HelloConnection {
        guard !parameters.greeting.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw PluginError(cause: "The greeting is blank.", assistance: "Set the connection's greeting, e.g. Hello.")
        }
        context.logger.info("connected with greeting \(parameters.greeting)")
        return HelloConnection(greeting: parameters.greeting, apiKey: parameters.apiKey?.secretKey)
    }

    /// A stand-in for asking the greeting service whether the key is valid: keys are 16 characters or more.
    func test(context: ConnectionContext) async throws -> JSONValue {
        if let apiKey, apiKey.count < 16 {
            throw PluginError(
                cause: "The greeting service rejected the API key.",
                assistance: "Copy the whole key (16 characters or more) from the service's settings page.")
        }
        return ["success": true]
    }
}

/// The shape of the spec's `greeting` type.
struct Greeting: Codable, Sendable {
    var text: String
    var names: [String]
}

/// `greet`: typed input to typed output.
struct Greet: PluginAction {
    static let name = "greet"

    struct Input: Decodable, Sendable {
        var names: [String]
        var punctuation: String?
    }

    struct Output: Encodable, Sendable {
        var greeting: Greeting
    }

    func run(_ input: Input, context: StepContext<HelloConnection>) async throws -> Output {
        guard !input.names.isEmpty else {
            throw PluginError(cause: "Nobody to greet.", assistance: "Give at least one name.")
        }
        let text = "\(context.connection.greeting), \(ListFormat.join(input.names))\(input.punctuation ?? "!")"
        context.logger.info("greeting \(input.names.count) name(s)")
        return Output(greeting: Greeting(text: text, names: input.names))
    }
}

/// `poll_greetings`: polls a directory; every new file holds a name and becomes one event. The names of the
/// files already seen are the trigger's state, so a restart does not send them again.
struct PollGreetings: PluginTrigger {
    static let name = "poll_greetings"

    struct Input: Decodable, Sendable {
        var directory: String
        var interval: Int?
    }

    struct Event: Encodable, Sendable {
        var greeting: Greeting
    }

    struct State: Codable, Sendable {
        var seen: [String]
    }

    /// At most a year between polls: a longer sleep traps (its deadline is past what the clock holds).
    static func problems(in input: Input) -> [InputProblem] {
        guard let interval = input.interval, interval > WorkflowLimits.longestTimerSeconds else { return [] }
        return [
            InputProblem(
                key: "interval",
                message: "expected at most \(WorkflowLimits.longestTimerSeconds) "
                    + "seconds (a year), found \(interval)")
        ]
    }

    func run(_ input: Input, context: TriggerContext<HelloConnection, Event>) async throws {
        var seen = Set(try await context.state.load(State.self)?.seen ?? [])
        let interval = min(max(1, input.interval ?? 5), WorkflowLimits.longestTimerSeconds)
        while !Task.isCancelled {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: input.directory)) ?? []
            for file in files.sorted() where !seen.contains(file) && !file.hasPrefix(".") {
                let path = (input.directory as NSString).appendingPathComponent(file)
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !name.isEmpty {
                    let text = "\(context.connection.greeting), \(name)!"
                    try await context.send(Event(greeting: Greeting(text: text, names: [name])))
                }
                seen.insert(file)
                try await context.state.save(State(seen: seen.sorted()))
            }
            try await Task.sleep(for: .seconds(interval))
        }
    }
}

enum ListFormat {
    /// `Ada`, `Ada and Grace`, `Ada, Grace and Linus`.
    static func join(_ names: [String]) -> String {
        guard names.count > 1 else { return names.first ?? "" }
        return names.dropLast().joined(separator: ", ") + " and " + names.last!
    }
}
