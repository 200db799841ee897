import ArgumentParser
import Foundation
import RelayEngine

/// `relay tokens create NAME | list | revoke NAME`: the tokens of the operator's API, stored hashed in
/// `DIR/.relay/api-tokens.json`.
struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "API tokens (Authorization: Bearer TOKEN), stored hashed in DIR/.relay/api-tokens.json.",
        discussion: """
            RELAY_API_TOKEN, when set for relay up or relay dispatcher, is accepted too; it is never stored. A \
            token created or revoked here applies to a running server at its next request.
            """,
        subcommands: [TokensCreateCommand.self, TokensListCommand.self, TokensRevokeCommand.self])
}

/// `--dir` of every tokens command.
struct TokensOptions: ParsableArguments {
    @Option(help: "The project directory (env RELAY_DIR).") var dir: String =
        ProcessInfo.processInfo.environment["RELAY_DIR"] ?? "."

    var store: APITokenStore { APITokenStore(stateDirectory: ProjectLayout(root: dir).stateDirectory) }
}

struct TokensCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a token named NAME and print it (on stdout, once: only its hash is kept).")
    @Argument(help: "The token's name: 1 to 64 letters, digits, '.', '_' or '-'.") var name: String
    @OptionGroup var options: TokensOptions

    func run() throws {
        let store = options.store
        let token = try CLIFailure.wrap { try store.create(name: name) }
        print(token)
        FileHandle.standardError.write(
            Data(
                ("relay: token \(name) created; it is not shown again (only its SHA-256 is stored in "
                    + "\(store.path)). Send it as: Authorization: Bearer TOKEN\n").utf8))
    }
}

struct TokensListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The tokens' names and when each was created (never the tokens).")
    @OptionGroup var options: TokensOptions

    func run() throws {
        let store = options.store
        let tokens = try CLIFailure.wrap { try store.list() }
        if tokens.isEmpty {
            FileHandle.standardError.write(Data("relay: no tokens (relay tokens create NAME makes one)\n".utf8))
        }
        let width = tokens.map(\.name.count).max() ?? 0
        let format = ISO8601DateFormatter()
        for token in tokens {
            let created = format.string(from: Date(timeIntervalSince1970: token.createdAt))
            print(token.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + created)
        }
    }
}

struct TokensRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Remove the token named NAME: requests bearing it get 401 from now on.")
    @Argument(help: "The token's name.") var name: String
    @OptionGroup var options: TokensOptions

    func run() throws {
        let store = options.store
        guard try CLIFailure.wrap({ try store.revoke(name: name) }) else {
            throw CLIFailure("no token named \(name) in \(store.path) (relay tokens list shows the names)")
        }
        print("token \(name) revoked")
    }
}
