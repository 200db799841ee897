import Crypto
import Foundation
import RelayCore

/// The key that encrypts connection secrets at rest: 32 random bytes (AES-256-GCM), from `RELAY_MASTER_KEY`
/// (base64), else the file named by `RELAY_MASTER_KEY_FILE`, else the project's `.relay/master.key`.
///
/// Its `id` (the first 8 bytes of its SHA-256, in hex) is written beside every secret it seals, so a wrong key
/// is named as such instead of failing as corrupt data; the id reveals nothing about the key.
public struct MasterKey: Sendable {
    private let bytes: [UInt8]
    public var key: SymmetricKey { SymmetricKey(data: bytes) }
    public let id: String
    /// Where it came from, for messages: "RELAY_MASTER_KEY" or a file path.
    public let source: String

    public init(bytes: [UInt8], source: String) throws {
        guard bytes.count == 32 else {
            throw RelayError(.configuration, "\(source): a master key is 32 bytes (base64, 44 characters); found \(bytes.count) bytes")
        }
        self.bytes = bytes
        id = SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
        self.source = source
    }

    public init(base64 text: String, source: String) throws {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw RelayError(.configuration, "\(source): expected a base64 master key (44 characters), found something else")
        }
        try self.init(bytes: Array(bytes), source: source)
    }

    /// A new random key.
    public static func generate(source: String) -> MasterKey {
        let key = SymmetricKey(size: .bits256)
        // Force-try: 32 bytes by construction.
        return try! MasterKey(bytes: key.withUnsafeBytes { Array($0) }, source: source)
    }

    public var base64: String { Data(bytes).base64EncodedString() }

    /// Where the project's key is looked for, in order.
    public enum Location: Sendable, Equatable {
        case environment
        case file(String)
    }

    /// The configured location: RELAY_MASTER_KEY, RELAY_MASTER_KEY_FILE, or `defaultFile`.
    public static func location(defaultFile: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Location
    {
        if let value = environment["RELAY_MASTER_KEY"], !value.isEmpty { return .environment }
        if let path = environment["RELAY_MASTER_KEY_FILE"], !path.isEmpty { return .file(path) }
        return .file(defaultFile)
    }

    /// The configured key, or nil when it is a file that does not exist.
    public static func load(defaultFile: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> MasterKey?
    {
        switch location(defaultFile: defaultFile, environment: environment) {
        case .environment:
            return try MasterKey(base64: environment["RELAY_MASTER_KEY"]!, source: "RELAY_MASTER_KEY")
        case .file(let path):
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw RelayError(.io, "\(path): cannot read the master key: \(error.localizedDescription)")
            }
            return try MasterKey(base64: text, source: path)
        }
    }

    /// Writes the key (base64) to `path`, readable by its owner only.
    public func write(to path: String) throws {
        try PrivateFile.write(base64 + "\n", to: path)
    }
}
