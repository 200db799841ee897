import Foundation
import RelayCore

/// Checks a spec as InsightConnect's offline validators (`icon_validator`, run by `insight-plugin validate`) do,
/// but reports every problem with its line instead of stopping at the first, and never crashes on odd input.
/// See docs/spec-validation.md for each rule and how the real plugins fare.
public struct SpecLinter: Sendable {
    public init() {}

    /// Lints spec text: a YAML or shape error is itself reported as a `syntax` problem.
    public func lint(yaml: String, file: String) -> [SpecProblem] {
        let spec: PluginSpec
        do {
            spec = try PluginSpec.decode(yaml: yaml, file: file)
        } catch {
            let (line, message) = SpecLinter.split(error.message, file: file)
            return [SpecProblem(file: file, line: line, rule: .syntax, message: message)]
        }
        return lint(spec, text: yaml)
    }

    public func lint(_ spec: PluginSpec, text: String) -> [SpecProblem] {
        var context = Context(spec: spec)
        context.checkRequiredKeys()
        context.checkAllowedKeys()
        context.checkRequiredFlags()
        context.checkDescriptions()
        context.checkTitles()
        context.checkVendorAndSupport(text: text)
        context.checkVersion(text: text)
        context.checkTags()
        context.checkUseCases()
        context.checkName()
        context.checkExamples()
        context.checkEnableCache()
        context.checkConnectionPasswords()
        context.checkASCII(text: text)
        context.checkTypes()
        context.checkDuplicateKeys()
        return context.problems.sorted { ($0.line, $0.rule.rawValue) < ($1.line, $1.rule.rawValue) }
    }

    /// Splits `FILE:LINE:COLUMN: message` into the line and `column COLUMN: message`.
    static func split(_ message: String, file: String) -> (Int, String) {
        guard message.hasPrefix(file + ":") else { return (1, message) }
        let rest = message.dropFirst(file.count + 1)
        let parts = rest.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]) else {
            return (1, String(rest).trimmingCharacters(in: .whitespaces))
        }
        return (line, "column \(column):" + parts[2])
    }
}

extension SpecLinter {
    struct Context {
        let spec: PluginSpec
        var problems: [SpecProblem] = []

        init(spec: PluginSpec) { self.spec = spec }

        var root: YAMLNode { spec.root }

        mutating func report(_ rule: SpecRule, _ node: YAMLNode?, _ message: String) {
            problems.append(SpecProblem(file: spec.file, line: node?.line ?? 1, rule: rule, message: message))
        }

        /// The node of a top-level key (its value), or the document.
        func node(_ key: String) -> YAMLNode { root[key] ?? root }

        // MARK: required-keys, spec-version

        mutating func checkRequiredKeys() {
            for key in ["plugin_spec_version", "name", "title", "description", "version", "vendor", "status", "tags"]
            where root[key] == nil {
                report(.requiredKeys, root, "missing top-level key '\(key)'")
            }
            if root["support"] == nil { report(.requiredKeys, root, "missing top-level key 'support'") }
            if root["resources"] == nil {
                report(.requiredKeys, root, "missing top-level key 'resources'")
            } else if let resources = root["resources"] {
                if resources.mapping == nil {
                    report(.requiredKeys, resources, "'resources' must be a mapping of resource names to URLs")
                } else {
                    let empty = ["vendor_url", "source_url", "license_url"].filter { resources[$0]?.isNull == true }
                    if !empty.isEmpty {
                        report(
                            .requiredKeys, resources,
                            "resources \(empty.joined(separator: ", ")) present with an empty value; "
                                + "remove the key or give a URL"
                        )
                    }
                }
            }
            if let ext = root["extension"] {
                if ext.string != "plugin" {
                    report(.requiredKeys, ext, "'extension' must be 'plugin', found \(ext.kindDescription)")
                }
            } else {
                report(.requiredKeys, root, "missing top-level key 'extension' (always 'plugin')")
            }
            if root["products"] == nil {
                report(.requiredKeys, root, "missing top-level key 'products' (a list that includes 'insightconnect')")
            } else if !spec.products.contains("insightconnect") {
                report(.requiredKeys, node("products"), "'products' must include 'insightconnect'")
            }
            if let hub = root["hub_tags"] {
                let missing = ["use_cases", "keywords", "features"].filter { hub[$0] == nil }
                if !missing.isEmpty {
                    report(
                        .requiredKeys, hub,
                        "hub_tags is missing sub-keys: \(missing.joined(separator: ", ")) (it needs "
                            + "use_cases, keywords and features)"
                    )
                }
            } else {
                report(.requiredKeys, root, "missing top-level key 'hub_tags' (use_cases, keywords and features)")
            }
            if let version = root["plugin_spec_version"], version.string != "v2" {
                report(.specVersion, version, "plugin_spec_version must be v2, found \(version.kindDescription)")
            }
        }

        // MARK: allowed-keys

        mutating func checkAllowedKeys() {
            for entry in root.orderedEntries where !SpecLinter.topLevelKeys.contains(entry.key) {
                report(.allowedKeys, entry.keyNode, "unknown top-level key '\(entry.key)'")
            }
            for field in spec.connection {
                checkFieldKeys(field, allowed: SpecLinter.fieldKeys, at: "connection.\(field.name)")
            }
            for component in spec.actions + spec.triggers {
                checkKeys(
                    component.node, allowed: SpecLinter.componentKeys,
                    at: "\(component.kind.section).\(component.name)")
                for field in component.input + component.output {
                    checkFieldKeys(
                        field, allowed: SpecLinter.fieldKeys,
                        at: "\(component.kind.section).\(component.name).\(field.name)")
                }
            }
            for task in spec.tasks {
                checkKeys(task.node, allowed: SpecLinter.taskKeys, at: "tasks.\(task.name)")
                for field in task.output {
                    checkFieldKeys(
                        field, allowed: SpecLinter.taskOutputFieldKeys,
                        at: "tasks.\(task.name).output.\(field.name)")
                }
                for field in task.state {
                    checkFieldKeys(
                        field, allowed: SpecLinter.taskStateFieldKeys, at: "tasks.\(task.name).state.\(field.name)")
                }
                if let schedule = task.node["schedule"] {
                    checkKeys(schedule, allowed: SpecLinter.taskScheduleKeys, at: "tasks.\(task.name).schedule")
                }
            }
            for type in spec.types {
                for field in type.fields {
                    checkFieldKeys(field, allowed: SpecLinter.fieldKeys, at: "types.\(type.name).\(field.name)")
                }
            }
        }

        private mutating func checkFieldKeys(_ field: FieldSpec, allowed: Set<String>, at location: String) {
            checkKeys(field.node, allowed: allowed, at: location)
        }

        private mutating func checkKeys(_ node: YAMLNode, allowed: Set<String>, at location: String) {
            for entry in node.orderedEntries where !allowed.contains(entry.key) {
                report(
                    .allowedKeys, entry.keyNode,
                    "\(location): unknown key '\(entry.key)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }

        // MARK: required-boolean

        mutating func checkRequiredFlags() {
            var sections: [(String, [FieldSpec])] = [("connection", spec.connection)]
            for component in spec.components {
                sections.append(("\(component.kind.section).\(component.name).input", component.input))
                sections.append(("\(component.kind.section).\(component.name).output", component.output))
            }
            for (path, fields) in sections {
                for field in fields {
                    guard let required = field.node["required"] else {
                        report(.requiredBoolean, field.node, "\(path).\(field.name): 'required' is missing")
                        continue
                    }
                    if case .scalar(.bool) = required.value { continue }
                    report(
                        .requiredBoolean, required,
                        "\(path).\(field.name): 'required' must be true or false, found \(required.kindDescription)")
                }
            }
        }

        // MARK: description

        mutating func checkDescriptions() {
            if let description = root["description"] {
                checkDescription(description, at: "plugin description")
            }
            for component in spec.components {
                let path = "\(component.kind.section).\(component.name)"
                checkDescription(component.node["description"], owner: component.node, at: path)
                for (section, fields) in [
                    ("input", component.input), ("output", component.output), ("state", component.state),
                ] {
                    for field in fields {
                        checkDescription(
                            field.node["description"], owner: field.node, at: "\(path).\(section).\(field.name)")
                    }
                }
            }
        }

        private mutating func checkDescription(_ node: YAMLNode?, owner: YAMLNode? = nil, at location: String) {
            guard let node, !node.isNull, !(node.string?.isEmpty ?? false) else {
                report(.description, owner ?? node, "\(location): description is missing")
                return
            }
            guard let text = node.string else {
                report(.description, node, "\(location): description must be a string, found \(node.kindDescription)")
                return
            }
            if text.hasSuffix(".") { report(.description, node, "\(location): description ends with a period") }
            if text.unicodeScalars.count > 500 {
                report(
                    .description, node,
                    "\(location): description is \(text.unicodeScalars.count) characters long, the limit is 500")
            }
            if let first = text.first {
                if first.isLowercase {
                    report(.description, node, "\(location): description starts with a lowercase letter")
                }
                if first.isWhitespace { report(.description, node, "\(location): description starts with white space") }
            }
        }

        // MARK: title

        mutating func checkTitles() {
            if let title = root["title"] { checkTitle(title, at: "plugin title", isPluginTitle: true) }
            for field in spec.connection {
                if let title = field.node["title"] { checkTitle(title, at: "connection.\(field.name)") }
            }
            for component in spec.components {
                let path = "\(component.kind.section).\(component.name)"
                if let title = component.node["title"] { checkTitle(title, at: path) }
                if let title = component.node["schedule"]?["title"] { checkTitle(title, at: path + ".schedule") }
                for (section, fields) in [
                    ("input", component.input), ("output", component.output), ("state", component.state),
                ] {
                    for field in fields {
                        if let title = field.node["title"] {
                            checkTitle(title, at: "\(path).\(section).\(field.name)")
                        }
                    }
                }
            }
        }

        private mutating func checkTitle(_ node: YAMLNode, at location: String, isPluginTitle: Bool = false) {
            guard let title = node.string else {
                report(.title, node, "\(location): title must be a string, found \(node.kindDescription)")
                return
            }
            guard let first = title.first else {
                report(.title, node, "\(location): title is empty")
                return
            }
            if title.hasSuffix(".") { report(.title, node, "\(location): title \"\(title)\" ends with a period") }
            if first.isLowercase && !isPluginTitle {
                report(.title, node, "\(location): title \"\(title)\" starts with a lowercase letter")
            }
            if first.isWhitespace { report(.title, node, "\(location): title \"\(title)\" starts with white space") }
            let words = title.split(whereSeparator: \.isWhitespace).map(String.init)
            if words.count > 7 {
                report(.title, node, "\(location): title \"\(title)\" has \(words.count) words, at most 7 are allowed")
            }
            // icon_validator skips every word the title starts with (the first word and its repeats).
            for word in words where !title.hasPrefix(word) {
                if SpecLinter.titleSmallWords.contains(word) {
                    if !title.hasSuffix(word) {
                        report(
                            .title, node,
                            "\(location): title \"\(title)\": '\(word)' should be lowercase in the middle of a title")
                    }
                } else if let initial = word.first, !initial.isUppercase,
                    !SpecLinter.titleSmallWords.contains(word.prefix(1).uppercased() + word.dropFirst().lowercased()),
                    word.allSatisfy(\.isLetter)
                {
                    report(
                        .title, node, "\(location): title \"\(title)\": '\(word)' should start with a capital letter")
                }
            }
        }

        // MARK: vendor, support

        mutating func checkVendorAndSupport(text: String) {
            for (key, rule) in [("vendor", SpecRule.vendor), ("support", SpecRule.support)] {
                guard let node = root[key] else { continue } // reported by required-keys
                guard let value = node.string, let first = value.first else {
                    report(rule, node, "\(key) must be a non-empty string, found \(node.kindDescription)")
                    continue
                }
                if value.lowercased() == "komand" {
                    report(rule, node, "\(key) 'komand' is not allowed (did you mean 'rapid7'?)")
                }
                if value.hasSuffix(".") { report(rule, node, "\(key) '\(value)' ends with a period") }
                if !first.isLowercase { report(rule, node, "\(key) '\(value)' must start with a lowercase letter") }
                if value.contains(" ") { report(rule, node, "\(key) '\(value)' must use underscores, not spaces") }
                if rule == .support, !SpecLinter.supportValues.contains(value) {
                    report(
                        rule, node,
                        "support must be one of \(SpecLinter.supportValues.joined(separator: ", ")), found '\(value)'")
                }
                if let line = SpecLinter.rawTopLevelValue(key, in: text),
                    line.value.contains("'") || line.value.contains("\"")
                {
                    report(rule, node, "\(key) is written in quotes; write it bare")
                }
            }
        }

        // MARK: version

        mutating func checkVersion(text: String) {
            guard let node = root["version"] else { return }
            guard let version = node.string else {
                report(
                    .version, node,
                    "version must be a string like 1.0.0, found \(node.kindDescription) (quote it or add a "
                        + "patch number)"
                )
                return
            }
            if version.range(of: #"^[1-9][0-9]*\.[0-9]+\.[0-9]+$"#, options: .regularExpression) == nil {
                report(
                    .version, node,
                    "version '\(version)' is not semantic: expected X.Y.Z with numbers only, starting at 1.0.0")
            }
            if let line = SpecLinter.rawTopLevelValue("version", in: text),
                line.value.contains("'") || line.value.contains("\"")
            {
                report(.version, node, "version is written in quotes; write it bare")
            }
        }

        // MARK: tags, use cases

        mutating func checkTags() {
            guard let node = root["tags"] else { return }
            guard let items = node.sequence else {
                report(.tags, node, "tags must be a list, found \(node.kindDescription)")
                return
            }
            if items.count < 2 { report(.tags, node, "at least 2 tags are needed, found \(items.count)") }
            for (index, item) in items.enumerated() where item.string == nil {
                report(.tags, item, "tags[\(index)] must be a string, found \(item.kindDescription)")
            }
        }

        mutating func checkUseCases() {
            guard let hub = root["hub_tags"], hub.mapping != nil else { return }
            let useCases = hub["use_cases"]
            if useCases == nil || useCases?.isNull == true || useCases?.sequence?.isEmpty == true {
                report(.useCases, useCases ?? hub, "hub_tags.use_cases must list at least one use case")
            } else if let items = useCases?.sequence {
                for item in items where !SpecLinter.useCases.contains(item.string ?? "") {
                    report(
                        .useCases, item,
                        "'\(item.text)' is not a use case; use one of \(SpecLinter.useCases.joined(separator: ", "))")
                }
            }
            for item in hub["keywords"]?.sequence ?? [] where SpecLinter.useCases.contains(item.string ?? "") {
                report(.useCases, item, "hub_tags.keywords contains the reserved use case '\(item.text)'; remove it")
            }
        }

        // MARK: name

        mutating func checkName() {
            guard let node = root["name"] else { return }
            guard let name = node.string, !name.isEmpty else {
                report(.name, node, "plugin name must be a non-empty string, found \(node.kindDescription)")
                return
            }
            if name.contains(where: \.isUppercase) {
                report(.name, node, "plugin name '\(name)' has uppercase letters")
            }
            if name.contains(where: \.isWhitespace) { report(.name, node, "plugin name '\(name)' has white space") }
            if !name.replacingOccurrences(of: "_", with: "").allSatisfy({ $0.isLetter || $0.isNumber }) {
                report(.name, node, "plugin name '\(name)' may only contain letters, digits and underscores")
            }
            let words = name.split(separator: "_", omittingEmptySubsequences: false).count
            if words > 7 { report(.name, node, "plugin name '\(name)' has \(words) words, at most 7 are allowed") }
        }

        // MARK: example

        mutating func checkExamples() {
            for component in spec.actions + spec.triggers {
                for field in component.input where field.node["example"] == nil {
                    report(
                        .example, field.node,
                        "\(component.kind.section).\(component.name).input.\(field.name): no example")
                }
            }
            for field in spec.connection where field.node["example"] == nil {
                report(.example, field.node, "connection.\(field.name): no example")
            }
        }

        // MARK: enable-cache, connection-password

        mutating func checkEnableCache() {
            guard !spec.triggers.isEmpty, spec.enableCache != true else { return }
            report(
                .enableCache, root["enable_cache"] ?? root["triggers"],
                "a plugin with triggers must set enable_cache: true")
        }

        mutating func checkConnectionPasswords() {
            for field in spec.connection where field.typeName == "password" {
                report(
                    .connectionPassword, field.node["type"] ?? field.node,
                    "connection.\(field.name) has type 'password'; use a credential type such as credential_secret_key")
            }
        }

        // MARK: ascii

        mutating func checkASCII(text: String) {
            var lineNumber = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lineNumber += 1
                let foreign = line.unicodeScalars.filter { !$0.isASCII }
                guard !foreign.isEmpty else { continue }
                var seen: [String] = []
                for scalar in foreign {
                    let name = "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
                    if !seen.contains(name) { seen.append(name) }
                }
                problems.append(
                    SpecProblem(
                        file: spec.file, line: lineNumber, rule: .ascii,
                        message: "non-ASCII character(s) \(seen.joined(separator: ", ")); specs must be ASCII only"))
            }
        }

        // MARK: type-defined

        mutating func checkTypes() {
            var sections: [(String, [FieldSpec])] = [("connection", spec.connection)]
            for component in spec.components {
                let path = "\(component.kind.section).\(component.name)"
                sections += [
                    (path + ".input", component.input), (path + ".output", component.output),
                    (path + ".state", component.state),
                ]
            }
            for type in spec.types { sections.append(("types.\(type.name)", type.fields)) }
            let custom = Set(spec.types.map(\.name))
            for (path, fields) in sections {
                for field in fields {
                    guard let typeName = field.typeName else {
                        report(.typeDefined, field.node, "\(path).\(field.name): no type")
                        continue
                    }
                    if !SpecLinter.isKnownType(typeName, custom: custom) {
                        report(
                            .typeDefined, field.node["type"] ?? field.node,
                            "\(path).\(field.name): type '\(typeName)' is neither a spec type nor defined under types")
                    }
                }
            }
        }
    }

    static func isKnownType(_ name: String, custom: Set<String>) -> Bool {
        if primitiveTypes.contains(name) || baseTypes.contains(name) || custom.contains(name) { return true }
        if name.hasPrefix("[]") {
            let element = String(name.dropFirst(2))
            return primitiveTypes.contains(element) || baseTypes.contains(element) || custom.contains(element)
        }
        return false
    }

    /// The raw text after `KEY:` on a line that starts with it (the validators read vendor and version quotes
    /// from the raw file).
    static func rawTopLevelValue(_ key: String, in text: String) -> (line: Int, value: String)? {
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            if line.hasPrefix(key + ":") { return (number, String(line.dropFirst(key.count + 1))) }
        }
        return nil
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
