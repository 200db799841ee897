import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-webhook: the native webhook plugin as an InsightConnect-style executable (run, test, info, sample,
// http).
do {
    await PluginMain.main(try NativePlugins.webhook())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-webhook: \(error)\n".utf8))
    exit(1)
}
