import Foundation
import RelayCore
import RelayEngine
import Testing

/// `RELAY_MASTER_KEY_FILE` naming something that is not a key file: each case says what is wrong, where it used to
/// say "no master key is set" (a missing file), "couldn't be opened" (a directory) or read forever (`/dev/zero`).
@Suite struct MasterKeyFileTests {
    func load(_ path: String) throws -> MasterKey? {
        try MasterKey.load(
            defaultFile: "/nonexistent/project/.relay/master.key",
            environment: ["RELAY_MASTER_KEY_FILE": path])
    }

    func message(_ path: String) -> String? {
        do {
            _ = try load(path)
            return nil
        } catch {
            return (error as? RelayError)?.message ?? "\(error)"
        }
    }

    @Test func aMissingFileIsNamedAsMissing() {
        let path = "/nonexistent-\(UUID().uuidString)/master.key"
        #expect(message(path) == "RELAY_MASTER_KEY_FILE (\(path)): no such file; it should hold the base64 master key")
    }

    @Test func theProjectsDefaultFileMayBeMissing() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/master.key"
        #expect(try MasterKey.load(defaultFile: missing, environment: [:]) == nil)
    }

    @Test func aDirectoryIsNamedAsADirectory() {
        let path = FileManager.default.temporaryDirectory.path
        #expect(
            message(path)
                == "RELAY_MASTER_KEY_FILE (\(path)): is a directory; expected a file holding the base64 master key")
    }

    /// /dev/zero never ends: the read must not either.
    @Test func aDeviceIsNotReadForever() {
        #expect(
            message("/dev/zero") == "RELAY_MASTER_KEY_FILE (/dev/zero): is not a regular file "
                + "(a device, pipe or socket); expected a file holding the base64 master key")
    }

    @Test func aLongFileIsReadOnlyToItsLimit() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relay-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x41, count: 1_000_000).write(to: URL(fileURLWithPath: path))
        #expect(
            message(path) == "RELAY_MASTER_KEY_FILE (\(path)): is longer than 4096 bytes; "
                + "expected the base64 master key (44 characters)")
    }

    @Test func aKeyFileIsRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relay-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let key = MasterKey.generate(source: "test")
        try key.write(to: path)
        #expect(try load(path)?.id == key.id)
    }
}
