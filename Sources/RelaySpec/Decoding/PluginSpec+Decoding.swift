import Foundation
import RelayCore

extension PluginSpec {
    /// Reads and decodes a spec file.
    public static func load(path: String) throws(RelayError) -> PluginSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw RelayError(exists ? .io : .notFound, "\(path): \(exists ? "cannot read the file" : "no such file")")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RelayError(.invalidSpec, "\(path): not UTF-8 text; a spec must be UTF-8 (ASCII only, in fact)")
        }
        return try decode(yaml: text, file: path)
    }

    /// Decodes spec text. `file` names the source in error messages.
    public static func decode(yaml: String, file: String) throws(RelayError) -> PluginSpec {
        // Duplicated keys are accepted as PyYAML (and the reference schema generator) accepts them.
        let (root, duplicateKeys) = try YAMLDocument.compose(yaml, file: file)
        var spec = try SpecDecoder(file: file).decodeSpec(root)
        spec.duplicateKeys = duplicateKeys
        return spec
    }
}

/// Turns a YAML tree into a `PluginSpec`. Shape errors (a list where a mapping belongs, a field that is not a
/// mapping) stop decoding with the file, line, column and key path; unknown keys are tolerated, and rules about
/// values are left to `SpecLinter`.
struct SpecDecoder {
    let file: String

    func decodeSpec(_ root: YAMLNode) throws(RelayError) -> PluginSpec {
        guard root.mapping != nil else {
            throw shapeError(root, path: "", expected: "a mapping of spec keys (name, version, actions, ...)")
        }
        let hub = root["hub_tags"]
        if let hub, hub.mapping == nil, !hub.isNull {
            throw shapeError(hub, path: "hub_tags", expected: "a mapping with use_cases, keywords and features")
        }
        let sdk = root["sdk"]
        if let sdk, sdk.mapping == nil, !sdk.isNull {
            throw shapeError(sdk, path: "sdk", expected: "a mapping with type, version and user")
        }
        let resources = root["resources"]
        if let resources, resources.mapping == nil, !resources.isNull {
            throw shapeError(resources, path: "resources", expected: "a mapping of resource names to URLs")
        }
        return PluginSpec(
            file: file,
            root: root,
            pluginSpecVersion: scalarText(root["plugin_spec_version"]),
            extension: scalarText(root["extension"]),
            products: try stringList(root["products"], path: "products"),
            name: scalarText(root["name"]) ?? "",
            title: scalarText(root["title"]),
            description: scalarText(root["description"]),
            version: scalarText(root["version"]),
            vendor: scalarText(root["vendor"]),
            support: scalarText(root["support"]),
            status: try stringList(root["status"], path: "status"),
            tags: try stringList(root["tags"], path: "tags"),
            hubTags: try hub.flatMap { node throws(RelayError) in
                node.isNull
                    ? nil
                    : HubTags(
                        useCases: try stringList(node["use_cases"], path: "hub_tags.use_cases"),
                        keywords: try stringList(node["keywords"], path: "hub_tags.keywords"),
                        features: try stringList(node["features"], path: "hub_tags.features"))
            },
            resources: Dictionary(
                (resources?.orderedEntries ?? []).compactMap { entry in scalarText(entry.node).map { (entry.key, $0) }
                },
                uniquingKeysWith: { _, last in last }),
            sdk: sdk.flatMap { node in
                node.isNull
                    ? nil
                    : SDKInfo(
                        type: scalarText(node["type"]), version: scalarText(node["version"]),
                        user: scalarText(node["user"]))
            },
            language: scalarText(root["language"]),
            connectionVersion: root["connection_version"].flatMap { node in
                if case .scalar(.int(let i)) = node.value { return i }
                return Int(node.text)
            },
            connection: try fields(root["connection"], path: "connection"),
            types: try customTypes(root["types"]),
            actions: try components(root["actions"], kind: .action),
            triggers: try components(root["triggers"], kind: .trigger),
            tasks: try components(root["tasks"], kind: .task),
            enableCache: bool(root["enable_cache"]),
            cloudReady: bool(root["cloud_ready"]),
            fedrampReady: bool(root["fedramp_ready"]),
            keyFeatures: try stringList(root["key_features"], path: "key_features"),
            requirements: try stringList(root["requirements"], path: "requirements", allowSingle: true),
            troubleshooting: try stringList(root["troubleshooting"], path: "troubleshooting", allowSingle: true),
            versionHistory: try stringList(root["version_history"], path: "version_history"),
            links: try stringList(root["links"], path: "links"),
            references: try stringList(root["references"], path: "references"),
            supportedVersions: try stringList(root["supported_versions"], path: "supported_versions")
        )
    }

    // MARK: - Components

    private func components(_ node: YAMLNode?, kind: ComponentSpec.Kind) throws(RelayError) -> [ComponentSpec] {
        guard let node, !node.isNull else { return [] }
        guard node.mapping != nil else {
            throw shapeError(
                node, path: kind.section, expected: "a mapping of \(kind.rawValue) names to \(kind.section)")
        }
        var result: [ComponentSpec] = []
        for entry in node.orderedEntries {
            let path = "\(kind.section).\(entry.key)"
            let body = entry.node
            guard body.mapping != nil || body.isNull else {
                throw shapeError(body, path: path, expected: "a mapping with title, description, input and output")
            }
            var schedule: TaskSchedule?
            if let scheduleNode = body["schedule"], !scheduleNode.isNull {
                guard scheduleNode.mapping != nil else {
                    throw shapeError(scheduleNode, path: path + ".schedule", expected: "a mapping with type and value")
                }
                schedule = TaskSchedule(
                    type: scalarText(scheduleNode["type"]) ?? "", value: scalarText(scheduleNode["value"]) ?? "")
            }
            result.append(
                ComponentSpec(
                    kind: kind,
                    name: entry.key,
                    title: scalarText(body["title"]),
                    description: scalarText(body["description"]),
                    input: try fields(body["input"], path: path + ".input"),
                    output: try fields(body["output"], path: path + ".output"),
                    state: try fields(body["state"], path: path + ".state"),
                    schedule: schedule,
                    node: body))
        }
        return result
    }

    private func customTypes(_ node: YAMLNode?) throws(RelayError) -> [CustomTypeSpec] {
        guard let node, !node.isNull else { return [] }
        guard node.mapping != nil else {
            throw shapeError(node, path: "types", expected: "a mapping of type names to their fields")
        }
        var result: [CustomTypeSpec] = []
        for entry in node.orderedEntries {
            result.append(
                CustomTypeSpec(
                    name: entry.key, fields: try fields(entry.node, path: "types.\(entry.key)"), node: entry.node))
        }
        return result
    }

    // MARK: - Fields

    func fields(_ node: YAMLNode?, path: String) throws(RelayError) -> [FieldSpec] {
        guard let node, !node.isNull else { return [] }
        guard node.mapping != nil else {
            throw shapeError(node, path: path, expected: "a mapping of field names to field definitions")
        }
        var result: [FieldSpec] = []
        for entry in node.orderedEntries {
            let fieldPath = "\(path).\(entry.key)"
            let body = entry.node
            guard body.mapping != nil else {
                throw shapeError(
                    body, path: fieldPath, expected: "a mapping with type, title, description and required")
            }
            var field = FieldSpec(name: entry.key, typeName: scalarText(body["type"]), node: body)
            field.title = scalarText(body["title"])
            field.description = scalarText(body["description"])
            field.required = bool(body["required"])
            field.defaultValue = body["default"]?.json
            if let enumNode = body["enum"], !enumNode.isNull {
                guard let items = enumNode.sequence else {
                    throw shapeError(enumNode, path: fieldPath + ".enum", expected: "a list of allowed values")
                }
                field.enumValues = items.map(\.json)
            }
            field.example = body["example"]?.json
            if let orderNode = body["order"], case .scalar(.int(let order)) = orderNode.value { field.order = order }
            field.placeholder = scalarText(body["placeholder"])
            field.tooltip = scalarText(body["tooltip"])
            result.append(field)
        }
        return result
    }

    // MARK: - Scalars

    /// The text of a scalar (any scalar: `version: 1.0` is the text "1.0"); nil for null, lists and mappings.
    private func scalarText(_ node: YAMLNode?) -> String? {
        guard let node, case .scalar(let scalar) = node.value else { return nil }
        switch scalar {
        case .null: return nil
        case .string(let s): return s
        default: return node.text
        }
    }

    private func bool(_ node: YAMLNode?) -> Bool? {
        guard let node, case .scalar(.bool(let b)) = node.value else { return nil }
        return b
    }

    private func stringList(_ node: YAMLNode?, path: String, allowSingle: Bool = false) throws(RelayError) -> [String] {
        guard let node, !node.isNull else { return [] }
        if allowSingle, node.scalar != nil { return [scalarText(node) ?? ""] }
        guard let items = node.sequence else {
            throw shapeError(node, path: path, expected: allowSingle ? "a string or a list of strings" : "a list")
        }
        return items.map { item in scalarText(item) ?? JSONWriter.compact.string(item.json) }
    }

    func shapeError(_ node: YAMLNode, path: String, expected: String) -> RelayError {
        let location = "\(file):\(node.line):\(node.column)"
        let key = path.isEmpty ? "" : " \(path):"
        return RelayError(.invalidSpec, "\(location):\(key) expected \(expected), found \(node.kindDescription)")
    }
}
