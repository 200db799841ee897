// libyaml as Yams compiles it in. Yams' own composer (`Yams.compose`) cannot be used on untrusted text: it
// hashes every mapping key (an alias to a billion-node tree as a key hashes a billion nodes before returning),
// refuses duplicated keys that PyYAML accepts, and recurses once per level. Yams exposes no event API, so this
// file reads libyaml's events itself; `CYaml` is reachable through the Yams product Relay already depends on,
// and using Yams' copy avoids a second libyaml with clashing symbols.
import CYaml
import RelayCore

/// Builds a `YAMLNode` tree from libyaml's events with an explicit stack (no recursion), expanding aliases by
/// sharing the anchored subtree (copy-on-write: linear time and memory) while counting what the expansion would
/// be, so `YAMLLimits` stop a document as soon as it crosses one. Keys written twice in a mapping are kept (the
/// last value wins where the tree is read) and listed.
struct YAMLComposer {
    let file: String
    let limits: YAMLLimits
    private(set) var duplicateKeys: [YAMLDuplicateKey] = []

    /// A finished node with what it expands to.
    private struct Built {
        var node: YAMLNode
        var nodes: Int
        var bytes: Int
        /// Collections nested in the node, itself included (0 for a scalar).
        var height: Int
    }

    /// A collection being read.
    private struct Frame {
        var isMapping: Bool
        var line: Int
        var column: Int
        var anchor: String?
        var items: [YAMLNode] = []
        var entries: [(key: YAMLNode, value: YAMLNode)] = []
        /// What `<<` merge keys bring in: it goes before `entries`, so keys written in the mapping win.
        var merged: [(key: YAMLNode, value: YAMLNode)] = []
        /// A mapping's key waiting for its value, and whether it is a plain `<<` (a merge key).
        var pendingKey: (node: YAMLNode, isMerge: Bool)?
        /// A mapping's keys as written (merged ones excluded), where each first appeared.
        var firstKeys: [String: (line: Int, column: Int)] = [:]
        var nodes = 1
        var bytes = 0
        var childHeight = 0
    }

    private var stack: [Frame] = []
    private var anchors: [String: Built] = [:]
    private var nodes = 0
    private var bytes = 0
    private var root: YAMLNode?

    init(file: String, limits: YAMLLimits) {
        self.file = file
        self.limits = limits
    }

    /// The first document's root, nil for an empty stream. A second document is an error.
    mutating func compose(_ text: String) throws(RelayError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw RelayError(.io, "\(file): cannot start the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(&parser) }
        let utf8 = Array(text.utf8)
        // libyaml reads the input in place: the buffer must outlive the parser.
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: max(utf8.count, 1))
        input.initialize(from: utf8, count: utf8.count)
        defer { input.deallocate() }
        yaml_parser_set_input_string(&parser, input, utf8.count)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)

        var documents = 0
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                throw YAMLComposer.error(of: parser, file: file, maxDepth: limits.maxDepth)
            }
            // yaml_parser_parse allocates the event's strings; yaml_event_delete frees them.
            defer { yaml_event_delete(&event) }
            let mark = (line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw fail(mark, "not valid YAML: expected a single document, found another document")
                }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                // Quoted and block scalars are always strings; plain ones get PyYAML's implicit types.
                // (Explicit tags such as `!!str 1` are not honoured; real specs do not use them.)
                let value: YAMLNode.Scalar =
                    scalar.style == YAML_PLAIN_SCALAR_STYLE
                    ? PyYAMLResolver.resolvePlain(text) : .string(text)
                let built = Built(
                    node: YAMLNode(value: .scalar(value), line: mark.line, column: mark.column, text: text),
                    nodes: 1, bytes: scalar.length, height: 0)
                try count(nodes: 1, bytes: scalar.length, height: 0, at: mark, alias: nil)
                if let anchor = YAMLComposer.string(scalar.anchor) { anchors[anchor] = built }
                add(built, isPlainMergeKey: scalar.style == YAML_PLAIN_SCALAR_STYLE && text == "<<")
            case YAML_ALIAS_EVENT:
                let name = YAMLComposer.string(event.data.alias.anchor) ?? ""
                guard var built = anchors[name] else {
                    throw fail(mark, "not valid YAML: found undefined alias *\(name)")
                }
                try count(nodes: built.nodes, bytes: built.bytes, height: built.height, at: mark, alias: name)
                built.node.line = mark.line
                built.node.column = mark.column
                add(built, isPlainMergeKey: false)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                try count(nodes: 1, bytes: 0, height: 1, at: mark, alias: nil)
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                stack.append(
                    Frame(
                        isMapping: isMapping, line: mark.line, column: mark.column,
                        anchor: YAMLComposer.string(anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let frame = stack.removeLast()
                let value: YAMLNode.Value =
                    frame.isMapping ? .mapping(frame.merged + frame.entries) : .sequence(frame.items)
                let built = Built(
                    node: YAMLNode(value: value, line: frame.line, column: frame.column),
                    nodes: frame.nodes, bytes: frame.bytes, height: frame.childHeight + 1)
                if let anchor = frame.anchor { anchors[anchor] = built }
                add(built, isPlainMergeKey: false)
            default:
                continue
            }
        }
    }

    /// Adds what a new node brings to the document's totals; throws at the first limit it crosses. A collection
    /// is counted when it starts (its contents as they come), an alias with everything it repeats.
    private mutating func count(
        nodes added: Int, bytes addedBytes: Int, height: Int, at mark: (line: Int, column: Int), alias: String?
    ) throws(RelayError) {
        let what = alias.map { "alias *\($0)" } ?? (height > 0 ? "a collection" : "a scalar")
        let depth = stack.count + height
        if depth > limits.maxDepth {
            throw fail(mark, "\(what) nests \(depth) levels deep, past the limit of \(limits.maxDepth) levels")
        }
        nodes += added
        if nodes > limits.maxNodes {
            throw fail(
                mark,
                "\(what) brings the document to \(nodes) nodes, past the limit of \(limits.maxNodes)"
                    + (alias == nil ? "" : " (an alias counts every node it repeats)"))
        }
        bytes += addedBytes
        if bytes > limits.maxScalarBytes {
            throw fail(
                mark,
                "\(what) brings the document to \(bytes) bytes of text, past the limit of "
                    + "\(limits.maxScalarBytes)" + (alias == nil ? "" : " (an alias counts every byte it repeats)"))
        }
    }

    /// Puts a finished node into the collection being read, or makes it the root.
    private mutating func add(_ built: Built, isPlainMergeKey: Bool) {
        guard var frame = stack.popLast() else {
            root = built.node
            return
        }
        defer { stack.append(frame) }
        frame.nodes += built.nodes
        frame.bytes += built.bytes
        frame.childHeight = max(frame.childHeight, built.height)
        guard frame.isMapping else {
            frame.items.append(built.node)
            return
        }
        guard let key = frame.pendingKey else {
            frame.pendingKey = (built.node, isPlainMergeKey)
            return
        }
        frame.pendingKey = nil
        if key.isMerge, let merged = YAMLComposer.mergedEntries(built.node) {
            frame.merged.append(contentsOf: merged)
            return
        }
        if case .scalar = key.node.value {
            let name = key.node.keyString
            if let first = frame.firstKeys[name] {
                duplicateKeys.append(
                    YAMLDuplicateKey(
                        key: name, line: key.node.line, column: key.node.column,
                        firstLine: first.line, firstColumn: first.column))
            } else {
                frame.firstKeys[name] = (key.node.line, key.node.column)
            }
        }
        frame.entries.append((key.node, built.node))
    }

    /// `<<: *anchor` merge keys, as PyYAML's `flatten_mapping` reads them: the merged entries come before the
    /// mapping's own (which therefore win, wherever the merge key stands), and of a list of mappings the earlier
    /// ones win (they come last).
    private static func mergedEntries(_ node: YAMLNode) -> [(key: YAMLNode, value: YAMLNode)]? {
        switch node.value {
        case .mapping(let entries): return entries
        case .sequence(let items): return items.reversed().compactMap(\.mapping).flatMap { $0 }
        case .scalar: return nil
        }
    }

    private func fail(_ mark: (line: Int, column: Int), _ message: String) -> RelayError {
        RelayError(.invalidYAML, "\(file):\(mark.line):\(mark.column): \(message)")
    }
}

extension YAMLComposer {
    /// A NUL-terminated libyaml string (anchors, problems), nil for NULL.
    static func string(_ pointer: UnsafePointer<UInt8>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    static func string(_ pointer: UnsafeMutablePointer<UInt8>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    /// libyaml's error, in the words Yams used: `FILE:LINE:COLUMN: not valid YAML: PROBLEM (CONTEXT started at
    /// line L, column C)`.
    static func error(of parser: yaml_parser_t, file: String, maxDepth: Int) -> RelayError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        switch parser.error {
        case YAML_MEMORY_ERROR:
            return RelayError(.io, "\(file): not enough memory to parse the YAML")
        case YAML_READER_ERROR:
            return RelayError(.invalidYAML, "\(file): not valid YAML: \(problem) at byte \(parser.problem_offset)")
        default:
            let mark = "\(file):\(parser.problem_mark.line + 1):\(parser.problem_mark.column + 1)"
            if problem.hasPrefix("Maximum nesting level reached") {
                // libyaml's own limit (1,000 levels), met while it scans ahead, before Relay sees the events.
                return RelayError(
                    .invalidYAML,
                    "\(mark): nesting past 1000 levels (the YAML parser's own limit); "
                        + "the limit is \(maxDepth) levels")
            }
            var text = "\(mark): not valid YAML: " + problem
            if let context = parser.context.map({ String(cString: $0) }) {
                text +=
                    " (\(context) started at line \(parser.context_mark.line + 1), column "
                    + "\(parser.context_mark.column + 1))"
            }
            return RelayError(.invalidYAML, text)
        }
    }
}
