import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-timer: the native timer plugin as an InsightConnect-style executable (run, test, info, sample, http).
do {
    await PluginMain.main(try NativePlugins.timer())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-timer: \(error)\n".utf8))
    exit(1)
}
