import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-base64: the native base64 plugin as an InsightConnect-style executable (run, test, info, sample, http).
do {
    await PluginMain.main(try NativePlugins.base64())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-base64: \(error)\n".utf8))
    exit(1)
}
