import RelayCore

/// The built-in steps (`artifact`, `match`, `filter`, `break`, `decision`, `global_artifact`, `join`): steps the
/// dispatcher decides itself, written instead of `plugin`/`action` (see `BuiltinStep`).
extension WorkflowDecoder {
    /// The built-in step written on `node`, or nil when it has none. At most one kind per step, and none of the
    /// keys that belong to a plugin's action or a sub-workflow beside it.
    static func decodeBuiltin(
        _ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> BuiltinStep? {
        let written = BuiltinStep.keys.filter { node[$0] != nil }
        guard let key = written.first, let value = node[key] else { return nil }
        if written.count > 1 {
            throw fail(
                node[written[1]], "\(path).\(written[1])",
                "a step is one kind: \(written.joined(separator: " and ")) cannot be on the same step")
        }
        for other in ["plugin", "action", "connection", "workflow", "input", "for_each", "concurrency", "retry"]
        where node[other] != nil {
            throw fail(
                node[other], "\(path).\(other)",
                "a \(key) step is decided by Relay itself: it has no \(other) (see docs/pipeline.md, Built-in steps)")
        }
        let at = "\(path).\(key)"
        switch key {
        case "artifact": return .artifact(try decodeArtifact(value, path: at, fail: fail))
        case "match": return .match(try decodeMatch(value, path: at, fail: fail))
        case "filter":
            guard let condition = try condition(value, path: at, fail: fail) else {
                throw fail(value, at, "expected a condition such as length(steps.lookup.output.hosts) > 0")
            }
            return .filter(condition)
        case "break":
            if case .scalar(.bool(true)) = value.value { return .breakLoop(nil) }
            guard let condition = try condition(value, path: at, fail: fail) else {
                throw fail(value, at, "expected true or a condition such as steps.check.output.malicious")
            }
            return .breakLoop(condition)
        case "decision": return .decision(try decodeDecision(value, path: at, fail: fail))
        case "join": return .join(try decodeJoin(value, step: node, path: at, fail: fail))
        default: return .globalArtifact(try decodeGlobalArtifact(value, path: at, fail: fail))
        }
    }

    /// A condition written as text (or a bare scalar such as `true`); nil when the node is not a scalar.
    static func condition(_ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError)
        throws(RelayError) -> Condition?
    {
        guard let text = node.string ?? (node.scalar != nil ? node.text : nil) else { return nil }
        do {
            return try Condition(text)
        } catch {
            throw fail(node, path, error.message)
        }
    }

    /// Checks that `node` is a mapping whose keys are among `allowed`.
    private static func mapping(
        _ node: YAMLNode, path: String, allowed: [String], fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) {
        guard node.mapping != nil else {
            throw fail(
                node, path, "expected a mapping with \(allowed.joined(separator: ", ")), found \(node.kindDescription)")
        }
        for entry in node.orderedEntries where !allowed.contains(entry.key) {
            throw fail(
                entry.keyNode, "\(path).\(entry.key)", "unknown key (expected \(allowed.joined(separator: ", ")))")
        }
    }

    private static func text(
        _ node: YAMLNode?, in parent: YAMLNode, path: String, what: String,
        fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> String {
        guard let node else { throw fail(parent, path, "expected \(what)") }
        guard let text = node.string ?? (node.scalar != nil && node.json != .null ? node.text : nil) else {
            throw fail(node, path, "expected \(what), found \(node.kindDescription)")
        }
        return text
    }

    /// `true` or `false` (absent: false).
    static func flag(
        _ node: YAMLNode?, path: String, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> Bool {
        guard let node else { return false }
        guard case .scalar(.bool(let value)) = node.value else {
            throw fail(node, path, "expected true or false, found \(node.kindDescription)")
        }
        return value
    }

    /// Checks a text template (`content`, `question`): it must parse.
    private static func checkText(
        _ text: String, node: YAMLNode?, path: String, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) {
        do {
            _ = try TextTemplate(text)
        } catch {
            throw fail(node, path, error.message)
        }
    }

    static func decodeArtifact(_ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError)
        throws(RelayError) -> ArtifactStep
    {
        try mapping(node, path: path, allowed: ["name", "format", "content"], fail: fail)
        let content = try text(node["content"], in: node, path: "\(path).content", what: "the text", fail: fail)
        try checkText(content, node: node["content"], path: "\(path).content", fail: fail)
        var artifact = ArtifactStep(name: "", content: content)
        if let name = node["name"] {
            artifact.name = try text(name, in: node, path: "\(path).name", what: "the artifact's name", fail: fail)
        }
        if let format = node["format"] {
            let value = try text(format, in: node, path: "\(path).format", what: "a format", fail: fail)
            guard ArtifactStep.formats.contains(value) else {
                throw fail(
                    format, "\(path).format",
                    "expected \(ArtifactStep.formats.joined(separator: ", ")), found \"\(value)\"")
            }
            artifact.format = value
        }
        return artifact
    }

    static func decodeMatch(_ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError)
        throws(RelayError) -> MatchStep
    {
        try mapping(node, path: path, allowed: ["text", "pattern", "ignore_case", "all"], fail: fail)
        let text = try text(
            node["text"], in: node, path: "\(path).text", what: "the text to search (a template)", fail: fail)
        do {
            _ = try Template.references(in: .string(text))
        } catch {
            throw fail(node["text"], "\(path).text", error.message)
        }
        let pattern = try self.text(
            node["pattern"], in: node, path: "\(path).pattern", what: "a regular expression", fail: fail)
        let ignoreCase = try flag(node["ignore_case"], path: "\(path).ignore_case", fail: fail)
        let all = try flag(node["all"], path: "\(path).all", fail: fail)
        do {
            return try MatchStep(text: text, pattern: pattern, ignoreCase: ignoreCase, all: all)
        } catch {
            throw fail(node["pattern"], "\(path).pattern", error.message)
        }
    }

    static func decodeDecision(_ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError)
        throws(RelayError) -> DecisionStep
    {
        try mapping(node, path: path, allowed: ["question", "options", "timeout", "default"], fail: fail)
        let question = try text(node["question"], in: node, path: "\(path).question", what: "the question", fail: fail)
        try checkText(question, node: node["question"], path: "\(path).question", fail: fail)
        guard let list = node["options"]?.sequence, !list.isEmpty else {
            throw fail(
                node["options"] ?? node, "\(path).options",
                "expected a list of the answers to choose from, such as [Approve, Reject]")
        }
        var options: [String] = []
        for item in list {
            let option = try text(item, in: node, path: "\(path).options", what: "an answer", fail: fail)
            guard !option.isEmpty else { throw fail(item, "\(path).options", "an answer cannot be empty") }
            guard !options.contains(option) else {
                throw fail(item, "\(path).options", "\"\(option)\" is listed twice")
            }
            options.append(option)
        }
        var decision = DecisionStep(question: question, options: options)
        if let timeout = node["timeout"] {
            decision.timeout = try duration(timeout, path: "\(path).timeout", fail: fail)
        }
        if let fallback = node["default"] {
            let option = try text(fallback, in: node, path: "\(path).default", what: "one of the options", fail: fail)
            guard options.contains(option) else {
                throw fail(
                    fallback, "\(path).default",
                    "\"\(option)\" is not one of the options (\(options.joined(separator: ", ")))")
            }
            guard decision.timeout != nil else {
                throw fail(fallback, "\(path).default", "a default is the answer when the timeout passes: add timeout")
            }
            decision.defaultOption = option
        }
        return decision
    }

    static func decodeGlobalArtifact(
        _ node: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> GlobalArtifactStep {
        try mapping(node, path: path, allowed: ["name", "lookup", "append"], fail: fail)
        let name = try text(
            node["name"], in: node, path: "\(path).name", what: "the global artifact's name", fail: fail)
        guard !name.isEmpty else { throw fail(node["name"], "\(path).name", "the name cannot be empty") }
        let operation: GlobalArtifactStep.Operation
        switch (node["lookup"], node["append"]) {
        case (let lookup?, nil):
            guard lookup.mapping != nil, !lookup.orderedEntries.isEmpty else {
                throw fail(
                    lookup, "\(path).lookup",
                    "expected a mapping of fields to the values they must equal, such as {name: \"{{ trigger.host }}\"}"
                )
            }
            operation = .lookup(lookup.json)
        case (nil, let append?): operation = .append(append.json)
        default:
            throw fail(node, path, "expected either lookup (to read entries) or append (to add one)")
        }
        let step = GlobalArtifactStep(name: name, operation: operation)
        do {
            for template in BuiltinStep.globalArtifact(step).templates { _ = try Template.references(in: template) }
        } catch {
            throw fail(node["lookup"] ?? node["append"], path, error.message)
        }
        return step
    }

    /// `join: {NAME: {NEED: TEMPLATE…}…}`: each need must be one of the step's written `needs` (the paths that meet
    /// there), each template (a value template, as in `input`: a constant stays what it is) must parse.
    static func decodeJoin(
        _ node: YAMLNode, step: YAMLNode, path: String, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> JoinStep {
        let example = "such as {Quarantine Successful: {quarantine: \"{{ steps.quarantine.success }}\"}}"
        guard node.mapping != nil, !node.orderedEntries.isEmpty else {
            throw fail(
                node, path,
                "expected a mapping of value names to the template each need's path gives, \(example), found "
                    + node.kindDescription)
        }
        let stepPath = String(path.dropLast(".join".count))
        guard let needsNode = step["needs"], let written = needsNode.sequence else {
            throw fail(
                step, "\(stepPath).needs",
                "a join step takes each value from the need whose path reached it: write its needs, such as "
                    + "[quarantine, release]")
        }
        let needs = written.compactMap(\.string)
        var values: [JoinStep.Value] = []
        for entry in node.orderedEntries {
            let at = "\(path).\(entry.key)"
            guard !entry.key.isEmpty else { throw fail(entry.keyNode, at, "a value's name cannot be empty") }
            guard entry.node.mapping != nil, !entry.node.orderedEntries.isEmpty else {
                throw fail(
                    entry.node, at,
                    "expected a mapping of needs (\(needs.joined(separator: ", "))) to the template the value takes "
                        + "when that need's path reached the join, found \(entry.node.kindDescription)")
            }
            var paths: [JoinStep.Path] = []
            for pathEntry in entry.node.orderedEntries {
                let pathAt = "\(at).\(pathEntry.key)"
                guard needs.contains(pathEntry.key) else {
                    throw fail(
                        pathEntry.keyNode, pathAt,
                        "\"\(pathEntry.key)\" is not one of the step's needs (\(needs.joined(separator: ", ")))")
                }
                let template = pathEntry.node.json
                do {
                    _ = try Template.references(in: template)
                } catch {
                    throw fail(pathEntry.node, pathAt, error.message)
                }
                paths.append(JoinStep.Path(need: pathEntry.key, template: template))
            }
            values.append(JoinStep.Value(name: entry.key, paths: paths))
        }
        return JoinStep(values: values)
    }
}
