import Foundation
import RelayCore
import RelaySpec

/// The specs in `--specs` (`<dir>/<plugin>/plugin.spec.yaml`, the corpus layout), each read once, with its JSON
/// schemas (what `relay workflow validate` checks inputs against).
public final class SpecCatalog {
    public struct Loaded {
        public var path: String
        public var spec: PluginSpec
        public var schemas: JSONValue

        /// The input schema of an action (or trigger).
        public func inputSchema(_ component: String, kind: ComponentSpec.Kind) -> JSONValue? {
            schemas[kind.section]?[component]?["input"]
        }
    }

    public let directory: String
    private var cache: [String: Result<Loaded, TranslationGap>] = [:]

    public init(directory: String) { self.directory = directory }

    /// The spec of `plugin`, or why there is none.
    public func spec(_ plugin: String) -> Result<Loaded, TranslationGap> {
        if let cached = cache[plugin] { return cached }
        let path = ((directory as NSString).appendingPathComponent(plugin) as NSString)
            .appendingPathComponent("plugin.spec.yaml")
        let result: Result<Loaded, TranslationGap>
        if !FileManager.default.fileExists(atPath: path) {
            result = .failure(TranslationGap("no spec in \(directory) (\(plugin)/plugin.spec.yaml)"))
        } else {
            do throws(RelayError) {
                let spec = try PluginSpec.load(path: path)
                let schemas = try SchemaGenerator(spec: spec).document()
                result = .success(Loaded(path: absolute(path), spec: spec, schemas: schemas))
            } catch {
                result = .failure(TranslationGap("its spec cannot be read: \(error.message)"))
            }
        }
        cache[plugin] = result
        return result
    }

    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString)
            .standardizingPath
    }
}
