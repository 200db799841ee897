/// The allow-lists of InsightConnect's offline validators (icon_validator 2.47.35), plus the top-level keys real
/// specs use (the validators do not check those).
extension SpecLinter {
    static let topLevelKeys: Set<String> = [
        "plugin_spec_version", "extension", "products", "name", "title", "description", "version", "vendor",
        "support", "status", "tags", "hub_tags", "resources", "actions", "connection", "types", "supported_versions",
        "sdk", "connection_version", "key_features", "version_history", "links", "references", "requirements",
        "enable_cache", "triggers", "cloud_ready", "troubleshooting", "fedramp_ready", "language", "tasks",
    ]
    static let componentKeys: Set<String> = ["input", "output", "title", "description", "action_type"]
    static let taskKeys: Set<String> = ["input", "output", "title", "description", "schedule", "state"]
    static let fieldKeys: Set<String> = [
        "title", "type", "description", "required", "default", "enum", "order", "example", "excludeProduct",
        "placeholder", "tooltip",
    ]
    static let taskOutputFieldKeys: Set<String> = [
        "title", "type", "description", "required", "default", "enum", "order", "example", "persist_state",
        "excludeProduct",
    ]
    static let taskStateFieldKeys: Set<String> = ["title", "description", "type"]
    static let taskScheduleKeys: Set<String> = ["title", "type", "enum", "default"]
    static let supportValues = ["rapid7", "community", "partner"]
    static let useCases = [
        "data_enrichment", "alerting_and_notifications", "application_management", "devops", "asset_inventory",
        "cloud_security", "credential_management", "data_utility", "offensive_security", "remediation_management",
        "reporting_and_analytics", "threat_detection_and_response", "user_management", "vulnerability_management",
    ]
    /// Articles and conjunctions that stay lowercase inside a title.
    static let titleSmallWords: Set<String> = [
        "A", "An", "As", "Also", "And", "Of", "The", "But", "From", "When", "In", "Out", "If", "Than", "Where",
        "While", "That", "By", "With", "To", "So", "For", "Or", "Nor", "Then", "After", "Before", "Is", "On", "At",
    ]
    static let primitiveTypes: Set<String> = [
        "boolean", "bool", "integer", "number", "int", "float", "string", "date", "bytes", "object",
    ]
    static let baseTypes: Set<String> = [
        "file", "password", "python", "credential_username_password", "credential_asymmetric_key",
        "credential_token", "credential_secret_key",
    ]
}
