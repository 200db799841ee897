import Crypto
import RelayCore
import RelaySDK

/// The four digests HashIt returns, as lowercase hex.
struct Digests: Encodable, Sendable {
    var md5: String
    var sha1: String
    var sha256: String
    var sha512: String

    init(_ bytes: [UInt8]) {
        md5 = Digests.hex(Insecure.MD5.hash(data: bytes))
        sha1 = Digests.hex(Insecure.SHA1.hash(data: bytes))
        sha256 = Digests.hex(SHA256.hash(data: bytes))
        sha512 = Digests.hex(SHA512.hash(data: bytes))
    }

    static func hex<D: Digest>(_ digest: D) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// `hashit/string`: the digests of the text's UTF-8 bytes.
struct HashString: PluginAction {
    typealias Connection = NoConnection
    static let name = "string"

    struct Input: Decodable, Sendable { var string: String }

    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Digests {
        Digests(Array(input.string.utf8))
    }
}

/// `hashit/bytes`: the digests of Base64-decoded bytes. Invalid Base64 fails as in the original: a plain error
/// with CPython's message (the original does not wrap it in a PluginException).
struct HashBytes: PluginAction {
    typealias Connection = NoConnection
    static let name = "bytes"

    struct Input: Decodable, Sendable { var bytes: String }

    struct InvalidBase64: Error, CustomStringConvertible { var description: String }

    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Digests {
        do {
            return Digests(try PythonBase64.decode(input.bytes))
        } catch {
            throw InvalidBase64(description: error.description)
        }
    }
}
