/// What one YAML document may hold, counted after every alias is expanded (as a consumer that walks the tree, or
/// PyYAML's loader followed by `json.dumps`, would see it). Ten lines of nested anchors and aliases ("billion
/// laughs") expand to a billion nodes; these limits turn that into an error at the alias that crosses them
/// instead of a hang, and keep every tree Relay walks recursively shallow enough for any thread's stack.
///
/// The defaults leave wide room for real files: the largest of the 167 InsightConnect specs has 6,780 nodes,
/// 88 KB of scalar text and 14 levels of nesting. See docs/spec-validation.md.
public struct YAMLLimits: Sendable, Equatable {
    /// Mappings and sequences inside one another (a scalar adds no level).
    public var maxDepth: Int
    /// Scalars, mappings and sequences in the document, an alias counting every node it repeats.
    public var maxNodes: Int
    /// UTF-8 bytes of scalar text in the document, an alias counting every byte it repeats.
    public var maxScalarBytes: Int

    public init(maxDepth: Int = 64, maxNodes: Int = 200_000, maxScalarBytes: Int = 16 << 20) {
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.maxScalarBytes = maxScalarBytes
    }
}
