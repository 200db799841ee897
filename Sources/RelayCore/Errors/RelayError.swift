/// The error type of Relay's libraries: a stable code, a message that says what was expected, what was found
/// and where, the underlying error, and where in Relay's source it was raised.
public struct RelayError: Error, Sendable, CustomStringConvertible {
    /// Stable, extensible error codes. New codes may be added; existing ones keep their meaning.
    public struct Code: Hashable, Sendable, CustomStringConvertible, RawRepresentable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidJSON = Code(rawValue: "invalid_json")
        public static let invalidYAML = Code(rawValue: "invalid_yaml")
        public static let invalidSpec = Code(rawValue: "invalid_spec")
        public static let invalidValue = Code(rawValue: "invalid_value")
        public static let notFound = Code(rawValue: "not_found")
        public static let io = Code(rawValue: "io")
        public static let transport = Code(rawValue: "transport")
        public static let configuration = Code(rawValue: "configuration")
        public static let timeout = Code(rawValue: "timeout")
        public static let plugin = Code(rawValue: "plugin")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?
    public var isRetriable: Bool
    public var file: String
    public var line: Int

    public init(
        _ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil, isRetriable: Bool = false,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.isRetriable = isRetriable
        self.file = file
        self.line = line
    }

    public var description: String { message }
}
