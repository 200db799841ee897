import Foundation
import RelayEngine
import Testing

/// `relay tokens create|list|revoke` as a user runs it.
@Suite struct TokensCommandTests {
    func withProject(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.path)
    }

    @Test func createListRevoke() async throws {
        try await withProject { dir in
            let created = try await RelayProcess.run(["tokens", "create", "ci", "--dir", dir])
            #expect(created.status == 0, "\(created.stderr)")
            let token = created.stdout.trimmingCharacters(in: .newlines)
            #expect(token.hasPrefix("relay_") && token.count == 49, "\(created.stdout)")
            #expect(created.stderr.contains("token ci created; it is not shown again"), "\(created.stderr)")
            // What the server reads accepts it.
            let store = APITokenStore(stateDirectory: "\(dir)/.relay")
            #expect(store.verify(token))
            let file = try String(contentsOfFile: store.path, encoding: .utf8)
            #expect(!file.contains(token))
            let permissions = try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as? Int
            #expect(permissions == 0o600)

            // RELAY_DIR instead of --dir.
            let second = try await RelayProcess.run(["tokens", "create", "laptop"], environment: ["RELAY_DIR": dir])
            #expect(second.status == 0, "\(second.stderr)")

            let list = try await RelayProcess.run(["tokens", "list", "--dir", dir])
            #expect(list.status == 0, "\(list.stderr)")
            let lines = list.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(list.stdout)")
            #expect(lines.first?.hasPrefix("ci      20") == true, "\(list.stdout)")
            #expect(lines.last?.hasPrefix("laptop  20") == true, "\(list.stdout)")
            let digest = try #require(file.split(separator: "\"").first { $0.count == 64 })
            #expect(!list.stdout.contains(token) && !list.stdout.contains(digest), "\(list.stdout)")

            let taken = try await RelayProcess.run(["tokens", "create", "ci", "--dir", dir])
            #expect(taken.status != 0)
            #expect(taken.stderr.contains(#"a token named "ci" already exists"#), "\(taken.stderr)")

            let revoked = try await RelayProcess.run(["tokens", "revoke", "ci", "--dir", dir])
            #expect(revoked.status == 0 && revoked.stdout == "token ci revoked\n", "\(revoked)")
            #expect(!store.verify(token))
            let unknown = try await RelayProcess.run(["tokens", "revoke", "ci", "--dir", dir])
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("no token named ci in \(store.path)"), "\(unknown.stderr)")
            #expect(try await RelayProcess.run(["tokens", "list", "--dir", dir]).stdout.hasPrefix("laptop  "))
        }
    }

    @Test func aBadNameOrAMalformedFileIsAClearError() async throws {
        try await withProject { dir in
            let bad = try await RelayProcess.run(["tokens", "create", "two words", "--dir", dir])
            #expect(bad.status == 2, "\(bad)")
            #expect(bad.stderr.contains("token name: expected 1 to 64 letters"), "\(bad.stderr)")

            try FileManager.default.createDirectory(atPath: "\(dir)/.relay", withIntermediateDirectories: true)
            try "{not json".write(toFile: "\(dir)/.relay/api-tokens.json", atomically: true, encoding: .utf8)
            let list = try await RelayProcess.run(["tokens", "list", "--dir", dir])
            #expect(list.status == 2, "\(list)")
            #expect(list.stderr.contains("\(dir)/.relay/api-tokens.json: line 1, column 2"), "\(list.stderr)")
        }
    }
}
