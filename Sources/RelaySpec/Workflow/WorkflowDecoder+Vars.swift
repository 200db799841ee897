import RelayCore

/// A workflow's `vars:`: decoding them, the trigger input rendered with them, and references to names not declared.
extension WorkflowDecoder {
    /// `vars:`, a mapping of names (any text but the empty one) to values (any JSON, not templates).
    static func decodeVars(_ node: YAMLNode?, fail: (YAMLNode?, String, String) -> RelayError) throws(RelayError)
        -> JSONObject
    {
        guard let node, node.json != .null else { return [:] }
        guard node.mapping != nil else {
            throw fail(
                node, "vars",
                "expected a mapping of variable names to their values, such as {channel: \"#soc\"}, found "
                    + node.kindDescription)
        }
        var vars = JSONObject()
        for entry in node.orderedEntries {
            guard !entry.key.isEmpty else { throw fail(entry.keyNode, "vars", "a variable's name cannot be empty") }
            vars[entry.key] = entry.node.json
        }
        return vars
    }

    /// Why `reference` may not be used: it reads a variable the workflow does not declare; nil otherwise.
    static func undeclaredVariable(_ reference: [String], vars: JSONObject) -> String? {
        guard reference.first == "vars", reference.count >= 2, vars[reference[1]] == nil else { return nil }
        let declared =
            vars.isEmpty
            ? "the workflow declares none (under vars:)"
            : "the workflow's vars are " + vars.keys.map { "\"\($0)\"" }.joined(separator: ", ")
        return "\(Template.text(of: reference)): unknown variable \"\(reference[1])\"; \(declared)"
    }

    /// A trigger's `input`, rendered with the workflow's vars: the only references it may hold (no event and no
    /// step exists when it is used).
    static func triggerInput(
        _ node: YAMLNode?, vars: JSONObject, fail: (YAMLNode?, String, String) -> RelayError
    ) throws(RelayError) -> JSONValue {
        guard let node else { return [:] }
        let input = node.json
        let references: [[String]]
        do {
            references = try Template.references(in: input)
        } catch {
            throw fail(node, "trigger.input", error.message)
        }
        for reference in references {
            guard reference.first == "vars" else {
                throw fail(
                    node, "trigger.input",
                    "\(Template.text(of: reference)): a trigger's input may use the workflow's vars only")
            }
            if let problem = undeclaredVariable(reference, vars: vars) { throw fail(node, "trigger.input", problem) }
        }
        do {
            return try Template.render(input, scope: Template.Scope(trigger: [:], vars: vars))
        } catch {
            throw fail(node, "trigger.input", error.message)
        }
    }
}
