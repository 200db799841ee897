import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-sleep: the native sleep plugin as an InsightConnect-style executable (run, test, info, sample, http).
do {
    await PluginMain.main(try NativePlugins.sleep())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-sleep: \(error)\n".utf8))
    exit(1)
}
