import Crypto
import Foundation
import RelayCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A stored API token as `relay tokens list` shows it: never its value or its hash.
public struct APITokenInfo: Sendable, Equatable {
    public var name: String
    /// Seconds since 1970.
    public var createdAt: Double

    public init(name: String, createdAt: Double) {
        self.name = name
        self.createdAt = createdAt
    }
}

/// The API tokens of a project: `DIR/.relay/api-tokens.json` (mode 0600) holds each token's name, the SHA-256 of
/// its value (hex) and when it was created, never the value itself:
///
/// ```json
/// {"tokens":[{"name":"default","sha256":"9f86d0…","created_at":1764806400.5}]}
/// ```
///
/// The file is read again when it changes (its inode, size or modification time; one `stat` per verification),
/// so a token created or revoked by `relay tokens` applies to a running server without a restart. Writers (the
/// CLI, `relay up`'s first start) hold an exclusive `flock` on `api-tokens.lock` while they read, change and
/// replace the file. A file that cannot be read is an error naming it; `verify` then accepts the environment
/// token only (it fails closed).
///
/// Limits: at most 1,000 stored tokens, a file of at most 1 MiB, and a presented token longer than 256 bytes is
/// refused before it is hashed.
public final class APITokenStore: Sendable {
    public static let maximumTokens = 1000
    public static let maximumPresentedBytes = 256
    static let maximumFileBytes = 1 << 20
    static let prefix = "relay_"

    /// `stateDirectory/api-tokens.json`.
    public let path: String
    let lockPath: String
    private let environmentDigest: [UInt8]?
    private let cache = Mutex(Cache())

    struct StoredToken: Sendable, Equatable {
        var name: String
        var digest: [UInt8]
        var createdAt: Double
    }

    /// What identifies a version of the file without reading it.
    struct FileStamp: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    private struct Cache: Sendable {
        /// nil before the first read; `.some(nil)` when the file did not exist at the last read.
        var stamp: FileStamp??
        var tokens: [StoredToken] = []
        var problem: RelayError?
    }

    /// Tokens of the project whose state directory is `stateDirectory` (`DIR/.relay`), file
    /// `stateDirectory/api-tokens.json` (0600): name, SHA-256 hex of the token, created_at. `environmentToken`
    /// (RELAY_API_TOKEN at the executable edge) is accepted too, never written.
    public init(stateDirectory: String, environmentToken: String? = nil) {
        path = (stateDirectory as NSString).appendingPathComponent("api-tokens.json")
        lockPath = (stateDirectory as NSString).appendingPathComponent("api-tokens.lock")
        if let environmentToken, !environmentToken.isEmpty,
            environmentToken.utf8.count <= Self.maximumPresentedBytes
        {
            environmentDigest = Array(SHA256.hash(data: Array(environmentToken.utf8)))
        } else {
            environmentDigest = nil
        }
    }

    /// A new random token (`relay_` + 43 base64url chars of 32 random bytes) named `name`; throws
    /// RelayError(.invalidValue) when the name is taken or not [A-Za-z0-9._-]{1,64}.
    public func create(name: String) throws -> String {
        try Self.check(name: name)
        let token = Self.generate()
        try modify { tokens in
            if tokens.contains(where: { $0.name == name }) {
                throw RelayError(
                    .invalidValue,
                    "\(path): a token named \"\(name)\" already exists; revoke it first or choose another name")
            }
            guard tokens.count < Self.maximumTokens else {
                throw RelayError(
                    .invalidValue,
                    "\(path): holds \(tokens.count) tokens, the most allowed is \(Self.maximumTokens); "
                        + "revoke some first"
                )
            }
            tokens.append(
                StoredToken(
                    name: name, digest: Array(SHA256.hash(data: Array(token.utf8))),
                    createdAt: Date().timeIntervalSince1970))
        }
        return token
    }

    /// The stored tokens, oldest first.
    public func list() throws -> [APITokenInfo] {
        try current().map { APITokenInfo(name: $0.name, createdAt: $0.createdAt) }
    }

    /// false when there is no such token.
    public func revoke(name: String) throws -> Bool {
        try modify { tokens in
            let before = tokens.count
            tokens.removeAll { $0.name == name }
            return tokens.count != before
        }
    }

    /// Constant-time comparison of SHA-256 digests against every stored token and the environment token.
    /// Re-reads the file when it changed (a token created or revoked by the CLI applies without a restart).
    public func verify(_ presented: String) -> Bool {
        let bytes = Array(presented.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumPresentedBytes else { return false }
        let digest = Array(SHA256.hash(data: bytes))
        // Every candidate is compared whatever the outcome of the others: the time taken depends on how many
        // tokens there are, not on which one (if any) matched.
        var matched: UInt8 = 0
        if let environmentDigest { matched |= Self.same(digest, environmentDigest) }
        // A file that cannot be read accepts no stored token (the error is reported by list and the CLI).
        for token in (try? current()) ?? [] { matched |= Self.same(digest, token.digest) }
        return matched != 0
    }

    /// relay up's first start: when no token is stored and no environment token is set, creates one named
    /// "default" and returns it (for `relay up` to print as `http://127.0.0.1:PORT/?token=…`); nil otherwise.
    public func createFirstTokenIfNone() throws -> String? {
        guard environmentDigest == nil else { return nil }
        let token = Self.generate()
        let created = try modify { tokens -> Bool in
            guard tokens.isEmpty else { return false }
            tokens.append(
                StoredToken(
                    name: "default", digest: Array(SHA256.hash(data: Array(token.utf8))),
                    createdAt: Date().timeIntervalSince1970))
            return true
        }
        return created ? token : nil
    }

    // MARK: - Names and values

    static func check(name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed, (1...64).contains(name.utf8.count) else {
            throw RelayError(
                .invalidValue,
                "token name: expected 1 to 64 letters, digits, '.', '_' or '-', found "
                    + JSONWriter.compact.string(.string(String(name.prefix(80))))
            )
        }
    }

    /// `relay_` and the base64url text (no padding) of 32 random bytes.
    static func generate() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let text = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return prefix + text
    }

    /// 1 when the two digests are equal, 0 otherwise, in a time that does not depend on where they differ.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> UInt8 {
        guard a.count == b.count else { return 0 }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0 ? 1 : 0
    }

    // MARK: - The file

    /// The tokens of the file as it is now: read again only when its stamp changed.
    private func current() throws -> [StoredToken] {
        try cache.withLock { cache in
            let stamp = Self.stamp(path)
            if let known = cache.stamp, known == stamp {
                if let problem = cache.problem { throw problem }
                return cache.tokens
            }
            cache.stamp = .some(stamp)
            do {
                cache.tokens = stamp == nil ? [] : try Self.read(path)
                cache.problem = nil
            } catch let error as RelayError {
                cache.tokens = []
                cache.problem = error
                throw error
            }
            return cache.tokens
        }
    }

    /// Reads the file, lets `body` change its tokens, writes them back (0600), all under the file lock; the
    /// cache then holds what was written.
    private func modify<T>(_ body: (inout [StoredToken]) throws -> T) throws -> T {
        try cache.withLock { cache in
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let lock = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard lock >= 0 else {
                throw RelayError(.io, "\(lockPath): cannot open the lock file: \(String(cString: strerror(errno)))")
            }
            defer { close(lock) }
            while flock(lock, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    throw RelayError(.io, "\(lockPath): cannot lock: \(String(cString: strerror(errno)))")
                }
            }
            // Closing the descriptor releases the lock.
            var tokens = Self.stamp(path) == nil ? [] : try Self.read(path)
            let before = tokens
            let result = try body(&tokens)
            if tokens != before {
                do {
                    try PrivateFile.write(JSONWriter.compact.string(Self.encode(tokens)) + "\n", to: path)
                } catch {
                    throw RelayError(.io, "\(path): cannot write: \(error)")
                }
            }
            cache.stamp = .some(Self.stamp(path))
            cache.tokens = tokens
            cache.problem = nil
            return result
        }
    }

    static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            seconds: Int(info.st_mtim.tv_sec), nanoseconds: Int(info.st_mtim.tv_nsec))
    }

    static func encode(_ tokens: [StoredToken]) -> JSONValue {
        .object([
            "tokens": .array(
                tokens.map { token in
                    .object([
                        "name": .string(token.name),
                        "sha256": .string(Hex.string(token.digest)),
                        "created_at": .double(token.createdAt),
                    ])
                })
        ])
    }

    /// The tokens of the file at `path`; every problem is a RelayError naming the file (and the entry).
    static func read(_ path: String) throws -> [StoredToken] {
        let expected = #"expected {"tokens": [{"name", "sha256", "created_at"}, …]} as relay tokens writes it"#
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RelayError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        // Bounded: one byte past the limit tells a file that is too long.
        let data = (try? handle.read(upToCount: maximumFileBytes + 1)) ?? Data()
        guard data.count <= maximumFileBytes else {
            throw RelayError(.invalidValue, "\(path): longer than \(maximumFileBytes) bytes; \(expected)")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes: Array(data))
        } catch {
            throw RelayError(.invalidJSON, "\(path): \(error); \(expected)")
        }
        guard let entries = value["tokens"]?.arrayValue else {
            throw RelayError(.invalidValue, "\(path): found no \"tokens\" list; \(expected)")
        }
        guard entries.count <= maximumTokens else {
            throw RelayError(
                .invalidValue, "\(path): holds \(entries.count) tokens, the most allowed is \(maximumTokens)")
        }
        var names = Set<String>()
        return try entries.enumerated().map { index, entry in
            let place = "\(path): tokens[\(index)]"
            guard let name = entry["name"]?.stringValue, (try? check(name: name)) != nil else {
                throw RelayError(.invalidValue, "\(place).name: expected 1 to 64 letters, digits, '.', '_' or '-'")
            }
            guard names.insert(name).inserted else {
                throw RelayError(.invalidValue, "\(place).name: \"\(name)\" appears twice")
            }
            guard let hex = entry["sha256"]?.stringValue, let digest = Hex.bytes(hex), digest.count == 32 else {
                throw RelayError(.invalidValue, "\(place).sha256: expected 64 hex digits (a SHA-256 digest)")
            }
            guard let createdAt = entry["created_at"]?.doubleValue else {
                throw RelayError(.invalidValue, "\(place).created_at: expected a number (seconds since 1970)")
            }
            return StoredToken(name: name, digest: digest, createdAt: createdAt)
        }
    }
}
