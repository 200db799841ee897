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
            throw RelayError(
                .configuration,
                "\(source): a master key is 32 bytes (base64, 44 characters); found \(bytes.count) bytes")
        }
        self.bytes = bytes
        id = SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
        self.source = source
    }

    public init(base64 text: String, source: String) throws {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw RelayError(
                .configuration, "\(source): expected a base64 master key (44 characters), found something else")
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
    public static func location(
        defaultFile: String, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> Location
    {
        if let value = environment["RELAY_MASTER_KEY"], !value.isEmpty { return .environment }
        if let path = environment["RELAY_MASTER_KEY_FILE"], !path.isEmpty { return .file(path) }
        return .file(defaultFile)
    }

    /// The configured key, or nil when it is the project's default file and that does not exist. A file named by
    /// `RELAY_MASTER_KEY_FILE` must exist and be a regular file of at most `longestFile` bytes: a missing file, a
    /// directory or a device (`/dev/zero` would be read forever) is an error that says which.
    public static func load(defaultFile: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> MasterKey?
    {
        switch location(defaultFile: defaultFile, environment: environment) {
        case .environment:
            return try MasterKey(base64: environment["RELAY_MASTER_KEY"]!, source: "RELAY_MASTER_KEY")
        case .file(let path):
            let named = path != defaultFile
            let place = named ? "RELAY_MASTER_KEY_FILE (\(path))" : path
            guard let text = try readKeyFile(path, place: place, mustExist: named) else { return nil }
            return try MasterKey(base64: text, source: path)
        }
    }

    /// A key file holds 44 characters and a newline; anything much longer is not one.
    public static let longestFile = 4096

    public static func fileExists(_ path: String) -> Bool { fileType(path) != nil }

    /// The text of the key file at `path`, or nil when it does not exist and need not.
    static func readKeyFile(_ path: String, place: String, mustExist: Bool) throws -> String? {
        switch fileType(path) {
        case nil:
            guard mustExist else { return nil }
            throw RelayError(.configuration, "\(place): no such file; it should hold the base64 master key")
        case S_IFREG?:
            break
        case S_IFDIR?:
            throw RelayError(.configuration, "\(place): is a directory; expected a file holding the base64 master key")
        default:
            throw RelayError(
                .configuration,
                "\(place): is not a regular file (a device, pipe or socket); "
                    + "expected a file holding the base64 master key")
        }
        let bytes: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            // Bounded: one byte past the limit tells a file that is too long.
            bytes = try handle.read(upToCount: longestFile + 1) ?? Data()
        } catch {
            throw RelayError(.io, "\(place): cannot read the master key: \(error.localizedDescription)")
        }
        guard bytes.count <= longestFile else {
            throw RelayError(
                .configuration,
                "\(place): is longer than \(longestFile) bytes; "
                    + "expected the base64 master key (44 characters)")
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw RelayError(.configuration, "\(place): is not text; expected the base64 master key (44 characters)")
        }
        return text
    }

    /// The type bits of what `path` names (symbolic links followed), or nil when nothing is there.
    private static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// Writes the key (base64) to `path`, readable by its owner only.
    public func write(to path: String) throws {
        try PrivateFile.write(base64 + "\n", to: path)
    }
}
