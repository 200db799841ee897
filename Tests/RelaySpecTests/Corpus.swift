import Foundation
import RelayCore

/// The InsightConnect conformance corpus (../shared/corpus/insightconnect), read by path, never copied.
enum Corpus {
    /// `RELAY_CORPUS` or `../shared/corpus/insightconnect` beside the package root.
    static let root: String = {
        if let path = ProcessInfo.processInfo.environment["RELAY_CORPUS"], !path.isEmpty { return path }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/insightconnect").path
    }()

    static var isPresent: Bool { FileManager.default.fileExists(atPath: root + "/specs") }

    /// Plugin names, sorted.
    static var plugins: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/specs")) ?? []).filter {
            FileManager.default.fileExists(atPath: "\(root)/specs/\($0)/plugin.spec.yaml")
        }.sorted()
    }

    static func specPath(_ plugin: String) -> String { "\(root)/specs/\(plugin)/plugin.spec.yaml" }

    static func expectedSchemas(_ plugin: String) throws -> JSONValue {
        let text = try String(contentsOfFile: "\(root)/schemas/\(plugin).json", encoding: .utf8)
        return try JSONParser.parse(text)
    }
}

/// The paths at which two JSON values differ, with both sides, for readable test failures.
func jsonDifferences(_ actual: JSONValue, _ expected: JSONValue, path: String = "$", limit: Int = 20) -> [String] {
    var out: [String] = []
    func walk(_ a: JSONValue, _ e: JSONValue, _ path: String) {
        guard out.count < limit else { return }
        switch (a, e) {
        case (.object(let ao), .object(let eo)):
            for key in Set(ao.keys).union(eo.keys).sorted() {
                switch (ao[key], eo[key]) {
                case (let x?, let y?): walk(x, y, "\(path).\(key)")
                case (let x?, nil): out.append("\(path).\(key): unexpected \(x)")
                case (nil, let y?): out.append("\(path).\(key): missing, expected \(y)")
                default: break
                }
            }
        case (.array(let aa), .array(let ea)) where aa.count == ea.count:
            for index in aa.indices { walk(aa[index], ea[index], "\(path)[\(index)]") }
        default:
            if a != e { out.append("\(path): got \(a), expected \(e)") }
        }
    }
    walk(actual, expected, path)
    return out
}
