import Crypto
import Foundation
import RelayCore

/// A secret value sealed with AES-256-GCM under the master key, as written in a connection file:
/// `relay-secret:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`. The plaintext is the value's JSON (a string,
/// or an object for credential types); the field's name is authenticated too, so a sealed value moved to another
/// field does not open.
public enum SealedSecret {
    static let prefix = "relay-secret:v1:"

    public static func isSealed(_ value: JSONValue) -> Bool { value.stringValue?.hasPrefix(prefix) == true }

    public static func seal(_ value: JSONValue, field: String, key: MasterKey) throws -> String {
        let plaintext = JSONWriter.compact.bytes(value)
        let box = try AES.GCM.seal(plaintext, using: key.key, authenticating: Array(field.utf8))
        // `combined` is non-nil for the default 12-byte nonce.
        return prefix + key.id + ":" + box.combined!.base64EncodedString()
    }

    /// Opens a sealed value. `place` names it in errors ("connections/mail.yaml: parameters.password"); no error
    /// contains the secret or the key.
    public static func open(_ text: String, field: String, key: MasterKey?, place: String) throws -> JSONValue {
        let parts = text.dropFirst(prefix.count).split(separator: ":", maxSplits: 1)
        guard text.hasPrefix(prefix), parts.count == 2, let combined = Data(base64Encoded: String(parts[1])) else {
            throw RelayError(
                .invalidValue,
                "\(place): expected an encrypted value (relay-secret:v1:KEYID:DATA), found a malformed one")
        }
        let keyID = String(parts[0])
        guard let key else {
            throw RelayError(
                .configuration,
                "\(place): encrypted under master key \(keyID), but no master key is set: set "
                    + "RELAY_MASTER_KEY or RELAY_MASTER_KEY_FILE, or put the key in the project's "
                    + ".relay/master.key"
            )
        }
        guard keyID == key.id else {
            throw RelayError(
                .configuration,
                "\(place): encrypted under master key \(keyID), but the master key from \(key.source) is "
                    + "\(key.id): wrong key"
            )
        }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            let plaintext = try AES.GCM.open(box, using: key.key, authenticating: Array(field.utf8))
            return try JSONParser.parse(bytes: Array(plaintext))
        } catch {
            throw RelayError(
                .invalidValue,
                "\(place): the encrypted value does not open with master key \(key.id): it was altered or "
                    + "belongs to another field"
            )
        }
    }
}
