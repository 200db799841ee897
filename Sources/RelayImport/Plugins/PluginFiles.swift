import RelayCore
import RelaySpec

/// The project files written for a plugin: `plugins/<name>.yaml` (its spec and the command that runs it) and
/// `connections/<name>.yaml` (a connection to fill in).
enum PluginFiles {
    /// The image InsightConnect publishes for a plugin, which speaks the same v1 protocol Relay's external plugins
    /// do: `docker run --rm -i rapid7/<name>:<version>` then `run` (or `test`), the message on stdin.
    static func command(plugin: String, version: String) -> [String] {
        ["docker", "run", "--rm", "-i", "rapid7/\(plugin):\(version)"]
    }

    static func plugin(name: String, loaded: SpecCatalog.Loaded, usedVersions: [String]) -> String {
        let version = loaded.spec.version ?? usedVersions.last ?? "latest"
        var writer = YAMLWriter()
        writer.comment(
            "The \(name) plugin, run as InsightConnect runs it: its published image, which speaks the same v1 "
                + "protocol as Relay's external plugins (written by relay workflow import).", indent: 0)
        writer.comment(
            "The workflows were built with \(usedVersions.joined(separator: ", ")); the spec and the image are "
                + "\(version), so that what relay workflow validate checks is what runs (import-report.md lists what "
                + "differs).", indent: 0)
        writer.entry("spec", .string(loaded.path), indent: 0)
        writer.line(
            "command: [" + command(plugin: name, version: version).map(YAMLWriter.quoted).joined(separator: ", ") + "]")
        return writer.text
    }

    /// A connection with the spec's fields: required ones null (or the spec's default) so that `relay workflow
    /// validate` names each until it is filled in; optional ones as comments.
    static func connection(name: String, loaded: SpecCatalog.Loaded, workflows: [String]) -> String {
        var writer = YAMLWriter()
        let fields = loaded.spec.connection
        writer.comment(
            "Connection of the \(name) plugin (spec \(loaded.spec.version ?? "")), used by "
                + "\(workflows.joined(separator: ", ")).",
            indent: 0)
        writer.comment(
            "InsightConnect exports hold no connection settings: fill in the fields below. Until then relay workflow "
                + "validate names each one that is still null (expected string, found null). Secret fields are "
                + "refused in clear: give them, with the "
                + "others, as relay connections add \(name) --plugin \(name) --force --json '{…}', which seals them.",
            indent: 0)
        writer.entry("plugin", .string(name), indent: 0)
        let schema = loaded.schemas["connection"] ?? [:]
        let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        let requiredFields = fields.filter { required.contains($0.name) }
        if requiredFields.isEmpty {
            writer.line("parameters: {}")
        } else {
            writer.line("parameters:")
        }
        for field in requiredFields {
            writer.comment(describe(field, required: true), indent: 2)
            writer.entry(field.name, field.defaultValue ?? .null, indent: 2)
        }
        let optional = fields.filter { !required.contains($0.name) }
        if !optional.isEmpty {
            writer.comment("Optional (left to the plugin's defaults):", indent: requiredFields.isEmpty ? 0 : 2)
            for field in optional {
                writer.comment(describe(field, required: false), indent: requiredFields.isEmpty ? 0 : 2)
            }
        }
        return writer.text
    }

    static func describe(_ field: FieldSpec, required: Bool) -> String {
        var about: [String] = []
        if let type = field.typeName { about.append(type) }
        about.append(required ? "required" : "optional")
        if let type = field.typeName, type == "password" || type.hasPrefix("credential_") { about.append("secret") }
        if let value = field.defaultValue { about.append("default \(JSONWriter.compact.string(value))") }
        let text = [field.description, field.title].compactMap { $0 }.first ?? ""
        return "\(field.name) (\(about.joined(separator: ", ")))\(text.isEmpty ? "" : ": " + text)"
    }
}
