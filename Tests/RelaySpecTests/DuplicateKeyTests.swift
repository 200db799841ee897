import Foundation
import RelayCore
import RelaySpec
import Testing

/// A spec with a key written twice in one mapping (as some InsightConnect plugins repeat `sdk.version`) loads as
/// PyYAML loads it, the last value winning at the first key's position, and the linter says where.
@Suite struct DuplicateKeyTests {
    static let spec = SpecLinterTests.clean.replacingOccurrences(
        of: "enable_cache: true\n",
        with: "enable_cache: true\nsdk:\n  type: slim\n  version: 5.4.1\n  user: nobody\n  version: 6.5.0\n")

    @Test func theSpecLoadsWithTheLastValueAtTheFirstPosition() throws {
        let spec = try PluginSpec.decode(yaml: Self.spec, file: "s.yaml")
        #expect(spec.sdk?.version == "6.5.0")
        #expect(spec.root["sdk"]?.orderedEntries.map(\.key) == ["type", "version", "user"])
        #expect(spec.root["sdk"]?.json == ["type": "slim", "version": "6.5.0", "user": "nobody"])
        #expect(
            spec.duplicateKeys
                == [YAMLDuplicateKey(key: "version", line: 24, column: 3, firstLine: 22, firstColumn: 3)])
        _ = try SchemaGenerator(spec: spec).document()
    }

    @Test func theLinterReportsItAsADuplicateKeyProblem() {
        let problems = SpecLinter().lint(yaml: Self.spec, file: "s.yaml").map(\.description)
        #expect(
            problems == [
                "s.yaml:24: duplicate-key: key 'version' appears again in the same mapping (first at line 22); "
                    + "this value is used and the first one is ignored, as PyYAML does; keep one"
            ])
    }

    @Test func duplicatesAreFoundAtAnyDepthAndInFlowMappings() throws {
        let (root, duplicates) = try YAMLDocument.compose(
            "a: {x: 1, y: 2, x: 3}\nb:\n  - c: 1\n    c: 2\n", file: "t.yaml")
        #expect(root.json == ["a": ["x": 3, "y": 2], "b": [["c": 2]]])
        #expect(
            duplicates.map { "\($0.key)@\($0.line):\($0.column) first \($0.firstLine):\($0.firstColumn)" }
                == ["x@1:17 first 1:5", "c@4:5 first 3:5"])
    }

    /// Relay's own files (workflows, connections, topics) still refuse a repeated key: there it is a mistake.
    @Test func workflowsStillRefuseThem() {
        #expect(throws: RelayError.self) {
            try WorkflowDecoder.decode(
                yaml: "name: w\nname: v\ntrigger: {plugin: p, trigger: t}\nsteps: []\n", file: "w.yaml")
        }
    }
}
