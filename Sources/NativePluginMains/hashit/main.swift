import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-hashit: the native hashit plugin as an InsightConnect-style executable (run, test, info, sample, http).
do {
    await PluginMain.main(try NativePlugins.hashit())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-hashit: \(error)\n".utf8))
    exit(1)
}
