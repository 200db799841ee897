import Foundation
import RelayCore
import Testing

@testable import RelayEngine

/// The API's tokens: stored hashed, compared in constant time, read again when another process changes the file.
@Suite struct APITokenStoreTests {
    func withStateDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-tokens-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory.appendingPathComponent(".relay").path)
    }

    @Test func createListVerifyRevoke() throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state)
            #expect(try store.list().isEmpty)
            let before = Date().timeIntervalSince1970
            let ci = try store.create(name: "ci")
            let laptop = try store.create(name: "laptop.alice-2")
            #expect(ci.hasPrefix("relay_") && ci.count == 6 + 43, "\(ci)")
            #expect(ci.dropFirst(6).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "\(ci)")
            #expect(ci != laptop)
            let listed = try store.list()
            #expect(listed.map(\.name) == ["ci", "laptop.alice-2"])
            #expect(
                listed.allSatisfy { $0.createdAt >= before - 1 && $0.createdAt <= Date().timeIntervalSince1970 + 1 })
            #expect(store.verify(ci) && store.verify(laptop))
            #expect(!store.verify(ci + "x") && !store.verify(String(ci.dropLast())) && !store.verify(""))

            // The file holds digests, never a token.
            let text = try String(contentsOfFile: store.path, encoding: .utf8)
            #expect(!text.contains(ci) && !text.contains(laptop), "\(text)")
            #expect(text.contains(#""sha256":"#), "\(text)")

            #expect(try store.revoke(name: "ci"))
            #expect(!store.verify(ci) && store.verify(laptop))
            #expect(try store.revoke(name: "ci") == false)
            #expect(try store.list().map(\.name) == ["laptop.alice-2"])
        }
    }

    @Test(arguments: ["", "has space", "slash/name", "ünïcode", String(repeating: "a", count: 65)])
    func aBadNameIsRefused(name: String) throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state)
            let error = try #require(throws: RelayError.self) { try store.create(name: name) }
            #expect(error.code == .invalidValue)
            #expect(error.message.contains("expected 1 to 64 letters, digits"), "\(error.message)")
        }
    }

    @Test func aTakenNameIsRefused() throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state)
            let first = try store.create(name: "ci")
            let error = try #require(throws: RelayError.self) { try store.create(name: "ci") }
            #expect(error.code == .invalidValue)
            #expect(error.message.contains(#"a token named "ci" already exists"#), "\(error.message)")
            #expect(store.verify(first))
        }
    }

    /// What `relay tokens` does in another process applies to a running server's store at its next verification.
    @Test func theFileIsReadAgainAfterAnotherStoreWritesIt() throws {
        try withStateDirectory { state in
            let server = APITokenStore(stateDirectory: state)
            let cli = APITokenStore(stateDirectory: state)
            #expect(try server.list().isEmpty)
            let token = try cli.create(name: "ci")
            #expect(server.verify(token))
            #expect(try server.list().map(\.name) == ["ci"])
            #expect(try cli.revoke(name: "ci"))
            #expect(!server.verify(token))
            // Created again under the same name: a new token; the old one stays refused.
            let again = try cli.create(name: "ci")
            #expect(server.verify(again) && !server.verify(token))
        }
    }

    @Test func theEnvironmentTokenIsAcceptedAndNeverWritten() throws {
        try withStateDirectory { state in
            let environment = "env-token-" + UUID().uuidString
            let store = APITokenStore(stateDirectory: state, environmentToken: environment)
            #expect(store.verify(environment))
            #expect(!store.verify(environment + "1"))
            #expect(try store.createFirstTokenIfNone() == nil)
            #expect(!FileManager.default.fileExists(atPath: store.path))
            let stored = try store.create(name: "ci")
            #expect(store.verify(environment) && store.verify(stored))
            let text = try String(contentsOfFile: store.path, encoding: .utf8)
            #expect(!text.contains(environment))
            #expect(try store.list().map(\.name) == ["ci"])
            // An empty variable is no token.
            #expect(!APITokenStore(stateDirectory: state, environmentToken: "").verify(""))
        }
    }

    @Test func aTokenLongerThan256BytesIsRefused() throws {
        try withStateDirectory { state in
            let long = String(repeating: "t", count: 257)
            let store = APITokenStore(stateDirectory: state, environmentToken: long)
            #expect(!store.verify(long))
            let fits = String(repeating: "t", count: 256)
            #expect(APITokenStore(stateDirectory: state, environmentToken: fits).verify(fits))
        }
    }

    @Test func theFileIsReadableByItsOwnerOnly() throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state)
            _ = try store.create(name: "ci")
            let permissions = try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as? Int
            #expect(permissions == 0o600, "\(String(permissions ?? 0, radix: 8))")
            _ = try store.revoke(name: "ci")
            let after = try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as? Int
            #expect(after == 0o600, "\(String(after ?? 0, radix: 8))")
        }
    }

    @Test func theFirstTokenIsCreatedOnceAndOnlyWhenThereIsNone() throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state)
            let first = try #require(try store.createFirstTokenIfNone())
            #expect(store.verify(first))
            #expect(try store.list().map(\.name) == ["default"])
            #expect(try store.createFirstTokenIfNone() == nil)
            #expect(try APITokenStore(stateDirectory: state).createFirstTokenIfNone() == nil)
            #expect(try store.revoke(name: "default"))
            _ = try store.create(name: "ci")
            #expect(try store.createFirstTokenIfNone() == nil)
        }
    }

    /// A file that is not what `relay tokens` writes is an error naming the file and the place; verify accepts no
    /// stored token then (the environment token still works), and a fixed file applies again.
    @Test(arguments: [
        (#"{"tokens": [{"name": "ci", "sha256": "#, "line 1, column 38: expected a JSON value, found end of input"),
        (#"{"tokens": {}}"#, #"found no "tokens" list"#),
        (
            #"{"tokens": [{"name": "ci", "sha256": "abc", "created_at": 1}]}"#,
            "tokens[0].sha256: expected 64 hex digits"
        ),
        (#"{"tokens": [{"name": "a b", "sha256": "abc", "created_at": 1}]}"#, "tokens[0].name: expected 1 to 64"),
        ("[1, 2]", #"found no "tokens" list"#),
    ])
    func aMalformedFileIsAClearError(text: String, expected: String) throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state, environmentToken: "from-the-environment")
            let token = try store.create(name: "ci")
            #expect(store.verify(token))
            try text.write(toFile: store.path, atomically: true, encoding: .utf8)
            let error = try #require(throws: RelayError.self) { try store.list() }
            #expect(error.message.hasPrefix(store.path + ": "), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!store.verify(token))
            #expect(store.verify("from-the-environment"))
            #expect(throws: RelayError.self) { try store.create(name: "other") }

            try #"{"tokens": []}"#.write(toFile: store.path, atomically: true, encoding: .utf8)
            #expect(try store.list().isEmpty)
        }
    }

    @Test func atMostAThousandTokens() throws {
        try withStateDirectory { state in
            let store = APITokenStore(stateDirectory: state)
            let tokens = (0..<APITokenStore.maximumTokens).map {
                APITokenStore.StoredToken(name: "t\($0)", digest: Array(repeating: 0, count: 32), createdAt: 1)
            }
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            try JSONWriter.compact.string(APITokenStore.encode(tokens)).write(
                toFile: store.path, atomically: true, encoding: .utf8)
            #expect(try store.list().count == 1000)
            let error = try #require(throws: RelayError.self) { try store.create(name: "one-more") }
            #expect(error.message.contains("holds 1000 tokens, the most allowed is 1000"), "\(error.message)")
        }
    }
}
