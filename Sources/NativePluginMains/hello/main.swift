import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-hello: the native hello plugin as an InsightConnect-style executable (run, test, info, sample, http).
do {
    await PluginMain.main(try NativePlugins.hello())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-hello: \(error)\n".utf8))
    exit(1)
}
