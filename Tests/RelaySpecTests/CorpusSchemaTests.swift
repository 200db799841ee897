import Foundation
import RelayCore
import RelaySpec
import Testing

/// Every schema Relay generates for the 167 real specs is JSON-equal to the reference generator's, and written
/// byte-identically.
@Suite(.enabled(if: Corpus.isPresent, "the corpus is not at \(Corpus.root); set RELAY_CORPUS"))
struct CorpusSchemaTests {
    @Test func theCorpusHasAllItsSpecs() {
        #expect(Corpus.plugins.count == 167)
    }

    @Test(arguments: Corpus.plugins)
    func schemasMatchTheReferenceGenerator(plugin: String) throws {
        let spec = try PluginSpec.load(path: Corpus.specPath(plugin))
        let generated = try SchemaGenerator(spec: spec).document()
        let expected = try Corpus.expectedSchemas(plugin)
        let differences = jsonDifferences(generated, expected)
        #expect(differences.isEmpty, "\(plugin): \(differences.joined(separator: "\n"))")
    }

    @Test func theDocumentIsWrittenByteForByteLikeTheReferenceFiles() throws {
        var mismatched: [String] = []
        for plugin in Corpus.plugins {
            let spec = try PluginSpec.load(path: Corpus.specPath(plugin))
            let text = JSONWriter.reference.string(try SchemaGenerator(spec: spec).document())
            let expected = try String(contentsOfFile: "\(Corpus.root)/schemas/\(plugin).json", encoding: .utf8)
            if text != expected { mismatched.append(plugin) }
        }
        #expect(mismatched.isEmpty, "not byte-identical: \(mismatched)")
    }
}
