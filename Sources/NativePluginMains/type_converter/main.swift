import Foundation
import RelayPlugins
import RelaySDK

// relay-plugin-type_converter: the native type_converter plugin as an InsightConnect-style executable (run, test,
// info, sample, http).
do {
    await PluginMain.main(try NativePlugins.typeConverter())
} catch {
    FileHandle.standardError.write(Data("relay-plugin-type_converter: \(error)\n".utf8))
    exit(1)
}
