import Foundation
import RelayCore
import RelaySpec
import RelayTestSupport
import Testing

/// Every schema Relay generates for the 167 real specs is JSON-equal to the reference generator's, and written
/// byte-identically.
@Suite(.serialized, .enabled(if: Corpus.isPresent, "the corpus is not at \(Corpus.root); set RELAY_CORPUS"))
struct CorpusSchemaTests {
    @Test func theCorpusHasAllItsSpecs() {
        #expect(Corpus.plugins.count == 167)
    }

    @Test(arguments: Corpus.plugins)
    func schemasMatchTheReferenceGenerator(plugin: String) async throws {
        let differences = try await OffPool.run {
            let spec = try PluginSpec.load(path: Corpus.specPath(plugin))
            let generated = try SchemaGenerator(spec: spec).document()
            return jsonDifferences(generated, try Corpus.expectedSchemas(plugin))
        }
        #expect(differences.isEmpty, "\(plugin): \(differences.joined(separator: "\n"))")
    }

    @Test func theDocumentIsWrittenByteForByteLikeTheReferenceFiles() async throws {
        let mismatched = try await OffPool.run {
            try Corpus.plugins.filter { plugin in
                let spec = try PluginSpec.load(path: Corpus.specPath(plugin))
                let text = JSONWriter.reference.string(try SchemaGenerator(spec: spec).document())
                let expected = try String(contentsOfFile: "\(Corpus.root)/schemas/\(plugin).json", encoding: .utf8)
                return text != expected
            }
        }
        #expect(mismatched.isEmpty, "not byte-identical: \(mismatched)")
    }
}
