import RelayPlugins
import RelaySDK

enum RelayPluginsCatalog {
    static func native() throws -> [String: Plugin] { try NativePlugins.all() }
}
