import RelayCore

/// A Relay reference as written in templates and conditions: a root (`steps.lookup.output`, `trigger.json`,
/// `trigger.item`, `vars["Name"]`) and path segments, each `.key` for a plain key, `[N]` for a position and
/// `["key"]` for a key with spaces or other characters.
public struct RelayReference: Sendable, Equatable, CustomStringConvertible {
    public var root: String
    public var segments: [String]

    public init(root: String, segments: [String] = []) {
        self.root = root
        self.segments = segments
    }

    public func appending(_ keys: [String]) -> RelayReference {
        RelayReference(root: root, segments: segments + keys)
    }

    public var description: String { root + segments.map(RelayReference.segment).joined() }

    /// One path segment as Relay writes it.
    public static func segment(_ key: String) -> String {
        if !key.isEmpty, key.utf8.count <= 9, key.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return "[\(key)]" }
        if isPlainKey(key) { return ".\(key)" }
        return "[\(JSONWriter.compact.string(.string(key)))]"
    }

    /// A key that may follow a dot: a letter or `_`, then letters, digits and `_`.
    public static func isPlainKey(_ key: String) -> Bool {
        guard let first = key.utf8.first, isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return key.utf8.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "_") }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// `vars["Name"]`: a workflow variable.
    public static func variable(_ name: String) -> RelayReference {
        RelayReference(root: "vars[\(JSONWriter.compact.string(.string(name)))]")
    }
}
