import RelayCore
import RelaySpec

/// Plugin spec YAML: YAMLDocument.parse, PluginSpec decoding, SchemaGenerator, SchemaValidator and SpecLinter.
/// Invariants:
/// - nothing traps, hangs or runs out of memory on any text (errors are `RelayError`s naming the file);
/// - a parsed document's JSON form survives a write → parse round trip;
/// - a decoded spec's generated schema document is JSON that round-trips in the reference layout, and validating
///   values against its schemas returns at most `maximumProblems` problems;
/// - the linter reports exactly one `syntax` problem for text that does not decode, and every problem's line lies
///   inside the text.
enum SpecYAMLTarget {
    static let file = "fuzz.spec.yaml"

    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let lineCount = yamlLineCount(text)

        if let node = try? YAMLDocument.parse(text, file: file) {
            let json = node.json
            let written = JSONWriter.python.bytes(json)
            let again = try? JSONParser.parsePythonStyle(String(decoding: written, as: UTF8.self))
            fuzzCheck(
                again.map { FuzzJSON.identical(json, $0, keyOrder: true) } ?? false,
                "a YAML document's JSON does not round-trip: \(excerpt(json))")
        }

        let decoded: PluginSpec?
        do throws(RelayError) {
            decoded = try PluginSpec.decode(yaml: text, file: file)
        } catch {
            fuzzCheck(error.message.hasPrefix(file), "a decoding error does not name the file: \(error.message)")
            decoded = nil
        }
        if let spec = decoded { checkSchemas(spec) }

        let problems = SpecLinter().lint(yaml: text, file: file)
        if decoded == nil {
            fuzzCheck(problems.count == 1 && problems[0].rule == .syntax, "undecodable spec, lint gave \(problems)")
        }
        for problem in problems {
            fuzzCheck((1...lineCount + 1).contains(problem.line), "problem outside the \(lineCount) lines: \(problem)")
        }
    }

    static func checkSchemas(_ spec: PluginSpec) {
        let generator = SchemaGenerator(spec: spec)
        guard let document = try? generator.document() else { return }
        let written = JSONWriter.reference.bytes(document)
        let again = try? JSONParser.parsePythonStyle(String(decoding: written, as: UTF8.self))
        fuzzCheck(
            again.map { FuzzJSON.identical(document, $0, keyOrder: false) } ?? false,
            "a generated schema document does not round-trip: \(excerpt(document))")
        var schemas: [JSONValue] = []
        if let connection = try? generator.connectionSchema() { schemas.append(connection) }
        for component in spec.components {
            if let input = try? generator.inputSchema(component) { schemas.append(input) }
            if let output = try? generator.outputSchema(component) { schemas.append(output) }
        }
        for schema in schemas {
            for options in [SchemaValidator.Options.input, .standard] {
                let validator = SchemaValidator(schema: schema, options: options)
                for value in [JSONValue.object([:]), .null, document, schema] {
                    let problems = validator.validate(value)
                    fuzzCheck(problems.count <= options.maximumProblems, "\(problems.count) validation problems")
                }
            }
        }
    }

    /// Lines as YAML counts them: LF, CR LF, a lone CR, NEL, LS and PS each end a line.
    static func yamlLineCount(_ text: String) -> Int {
        var lines = 1
        var previous: Unicode.Scalar = "\0"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n" where previous == "\r": break
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": lines += 1
            default: break
            }
            previous = scalar
        }
        return lines
    }
}
