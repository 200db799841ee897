import Foundation
import RelayCore
import RelaySDK

/// The plugins that ship with Relay. Each is also an executable (`relay-plugin-<name>`) that speaks the
/// InsightConnect v1 protocol, and Relay's workers and trigger host run them in-process.
public enum NativePlugins {
    /// Every native plugin by name.
    public static func all() throws -> [String: Plugin] {
        var plugins: [String: Plugin] = [:]
        for plugin in [
            try base64(), try hashit(), try typeConverter(), try timer(), try webhook(), try hello(), try sleep(),
        ] {
            plugins[plugin.name] = plugin
        }
        return plugins
    }

    public static func base64() throws -> Plugin {
        try Plugin(
            specYAML: try spec("base64"), file: "base64.spec.yaml", connection: NoConnection.self,
            actions: [.init(Base64Encode()), .init(Base64Decode())])
    }

    public static func hashit() throws -> Plugin {
        try Plugin(
            specYAML: try spec("hashit"), file: "hashit.spec.yaml", connection: NoConnection.self,
            actions: [.init(HashString()), .init(HashBytes())])
    }

    public static func typeConverter() throws -> Plugin {
        try Plugin(
            specYAML: try spec("type_converter"), file: "type_converter.spec.yaml", connection: NoConnection.self,
            actions: TypeConverter.actions)
    }

    public static func timer() throws -> Plugin {
        try Plugin(
            specYAML: try spec("timer"), file: "timer.spec.yaml", connection: NoConnection.self,
            triggers: [.init(IntervalTrigger()), .init(CronTrigger())])
    }

    public static func webhook() throws -> Plugin {
        try Plugin(
            specYAML: try spec("webhook"), file: "webhook.spec.yaml", connection: NoConnection.self,
            triggers: [.init(WebhookTrigger())])
    }

    public static func hello() throws -> Plugin {
        try Plugin(
            specYAML: try spec("hello"), file: "hello.spec.yaml", connection: HelloConnection.self,
            actions: [.init(Greet())], triggers: [.init(PollGreetings())])
    }

    public static func sleep() throws -> Plugin {
        try Plugin(
            specYAML: try spec("sleep"), file: "sleep.spec.yaml", connection: NoConnection.self,
            actions: [.init(SleepAction())])
    }

    /// The text of `Specs/<name>.spec.yaml`.
    public static func spec(_ name: String) throws -> String {
        guard
            let url = Bundle.module.url(forResource: name, withExtension: "spec.yaml", subdirectory: "Specs")
                ?? Bundle.module.url(forResource: "\(name).spec", withExtension: "yaml", subdirectory: "Specs")
        else {
            throw RelayError(.notFound, "the spec of native plugin '\(name)' is missing from Relay's resources")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
