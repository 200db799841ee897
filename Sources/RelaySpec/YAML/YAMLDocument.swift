import RelayCore

/// Parses YAML text into `YAMLNode`s with PyYAML's YAML 1.1 scalar resolution, within `YAMLLimits` (alias
/// expansion, nesting depth): every YAML file Relay reads (specs, workflows, connections, plugin registrations,
/// topics) goes through here.
public enum YAMLDocument {
    /// Parses the first document of `text` and refuses a key written twice in one mapping, naming it and where.
    /// An empty document is `null`.
    public static func parse(_ text: String, file: String, limits: YAMLLimits = YAMLLimits()) throws(RelayError)
        -> YAMLNode
    {
        let (root, duplicates) = try compose(text, file: file, limits: limits)
        if let duplicate = duplicates.first {
            throw RelayError(
                .invalidYAML,
                "\(file):\(duplicate.firstLine):\(duplicate.firstColumn): not valid YAML: key '\(duplicate.key)' "
                    + "appears more than once in one mapping (first here); keep one")
        }
        return root
    }

    /// Parses the first document of `text` as PyYAML loads it: a key written twice in one mapping keeps its last
    /// value (read the tree through `orderedEntries`, `subscript` or `json`); the duplicates are listed.
    public static func compose(_ text: String, file: String, limits: YAMLLimits = YAMLLimits()) throws(RelayError)
        -> (root: YAMLNode, duplicateKeys: [YAMLDuplicateKey])
    {
        var composer = YAMLComposer(file: file, limits: limits)
        let root = try composer.compose(text) ?? YAMLNode(value: .scalar(.null), line: 1, column: 1)
        return (root, composer.duplicateKeys)
    }
}
