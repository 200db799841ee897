import RelayCore

/// A decoded `plugin.spec.yaml` (InsightConnect spec v2, as the real plugins write it). Every top-level key real
/// plugins use is typed; the whole document stays available as `root` for anything else.
public struct PluginSpec: Sendable {
    /// Where the spec was read from; used in every message about it.
    public var file: String
    public var root: YAMLNode

    public var pluginSpecVersion: String?
    public var `extension`: String?
    public var products: [String]
    public var name: String
    public var title: String?
    public var description: String?
    public var version: String?
    public var vendor: String?
    public var support: String?
    public var status: [String]
    public var tags: [String]
    public var hubTags: HubTags?
    public var resources: [String: String]
    public var sdk: SDKInfo?
    public var language: String?
    public var connectionVersion: Int?
    public var connection: [FieldSpec]
    public var types: [CustomTypeSpec]
    public var actions: [ComponentSpec]
    public var triggers: [ComponentSpec]
    public var tasks: [ComponentSpec]
    public var enableCache: Bool?
    public var cloudReady: Bool?
    public var fedrampReady: Bool?
    public var keyFeatures: [String]
    /// Written either as one string or as a list (both occur in real specs); one string is one element.
    public var requirements: [String]
    /// Written either as one string or as a list; a single string becomes a one-element list.
    public var troubleshooting: [String]
    public var versionHistory: [String]
    public var links: [String]
    public var references: [String]
    public var supportedVersions: [String]
    /// Keys written twice in one mapping. The spec is read as PyYAML reads it (the last value wins, at the first
    /// key's position); `relay plugin validate` reports each as a `duplicate-key` problem.
    public var duplicateKeys: [YAMLDuplicateKey] = []

    /// True when the spec has a `connection:` section (even an empty one).
    public var hasConnection: Bool { root["connection"] != nil }

    public func customType(named name: String) -> CustomTypeSpec? { types.first { $0.name == name } }
    public func action(named name: String) -> ComponentSpec? { actions.first { $0.name == name } }
    public func trigger(named name: String) -> ComponentSpec? { triggers.first { $0.name == name } }
    public func task(named name: String) -> ComponentSpec? { tasks.first { $0.name == name } }

    /// Every action, trigger and task, in that order.
    public var components: [ComponentSpec] { actions + triggers + tasks }
}

/// `hub_tags`: the Extension Library's classification.
public struct HubTags: Sendable, Equatable {
    public var useCases: [String]
    public var keywords: [String]
    public var features: [String]
}

/// `sdk`: the runtime image a Python plugin is built on.
public struct SDKInfo: Sendable, Equatable {
    public var type: String?
    public var version: String?
    public var user: String?
}
