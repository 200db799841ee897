/// A key written twice in one mapping. PyYAML keeps the last value (at the first key's position, as a Python
/// dict does); so does `YAMLNode.orderedEntries`.
public struct YAMLDuplicateKey: Sendable, Equatable {
    /// The key as `YAMLNode.keyString` writes it.
    public var key: String
    /// 1-based line and column of the repeated key.
    public var line: Int
    public var column: Int
    /// 1-based line and column of the key's first occurrence in the mapping.
    public var firstLine: Int
    public var firstColumn: Int

    public init(key: String, line: Int, column: Int, firstLine: Int, firstColumn: Int) {
        self.key = key
        self.line = line
        self.column = column
        self.firstLine = firstLine
        self.firstColumn = firstColumn
    }
}
