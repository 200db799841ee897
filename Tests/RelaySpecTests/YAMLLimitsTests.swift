import Foundation
import RelayCore
import RelaySpec
import Testing

/// Alias bombs and deep nesting are clear errors naming the file, line, limit and what was found; documents
/// within the limits (every real spec, anchors and merge keys used sensibly) read as before. The time limit only
/// turns a regression (an unbounded expansion) into a failure instead of a hung run.
@Suite(.timeLimit(.minutes(2)))
struct YAMLLimitsTests {
    /// "Billion laughs": nine levels of nine aliases, 10^9 nodes once expanded, in ten lines.
    static let billionLaughs = """
        a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]

        """

    /// The error's message, or "no error" (never the document itself: some are megabytes long).
    func message(_ text: String, limits: YAMLLimits = YAMLLimits()) -> String {
        do {
            _ = try YAMLDocument.parse(text, file: "bomb.yaml", limits: limits)
            return "no error"
        } catch {
            return error.message
        }
    }

    /// Merge keys as PyYAML reads them: the mapping's own keys win wherever `<<` stands, and of a list of
    /// mappings the earlier win.
    @Test func mergeKeysReadAsPyYAMLReadsThem() throws {
        let text = "base: &b {a: 1, b: 2}\nx:\n  a: 9\n  <<: *b\ny:\n  <<: [{a: 1, c: 1}, {a: 2, c: 2, d: 2}]\n"
        let node = try YAMLDocument.parse(text, file: "t.yaml")
        #expect(node.json == ["base": ["a": 1, "b": 2], "x": ["a": 9, "b": 2], "y": ["a": 1, "c": 1, "d": 2]])
    }

    /// A base-60 integer (`1:30`) past Int's range trapped on overflow; it stays text.
    @Test func aSexagesimalIntegerPastIntsRangeIsText() throws {
        let node = try YAMLDocument.parse("a: 1:0:0:0:0:0:0:0:0:0:0:0:0\nb: 1:30\n", file: "t.yaml")
        #expect(node["a"]?.scalar == .string("1:0:0:0:0:0:0:0:0:0:0:0:0"))
        #expect(node["b"]?.scalar == .int(90))
    }

    @Test func aBillionLaughsIsStoppedAtTheAliasThatCrossesTheNodeLimit() throws {
        let found = message(Self.billionLaughs)
        // 1 + 2 + 20 + 2 + 200 + 2 + 2,000 + 2 + 20,000 + ... crosses 200,000 at the third alias on line f.
        #expect(found.hasPrefix("bomb.yaml:6:"), "\(found)")
        #expect(found.contains("alias *e brings the document to "), "\(found)")
        #expect(found.contains("nodes, past the limit of 200000 (an alias counts every node it repeats)"), "\(found)")
    }

    @Test func anAliasRepeatingALongScalarIsStoppedAtTheTextLimit() throws {
        let long = String(repeating: "x", count: 1 << 20)
        let text = "a: &a \(long)\nb: [" + Array(repeating: "*a", count: 20).joined(separator: ", ") + "]\n"
        let found = message(text)
        #expect(found.hasPrefix("bomb.yaml:2:"), "\(found)")
        // Two one-letter keys, the scalar, and 15 aliases to it: the 15th alias (column 61) crosses 16 MiB.
        #expect(
            found == "bomb.yaml:2:61: alias *a brings the document to 16777218 bytes of text, past the limit of "
                + "16777216 (an alias counts every byte it repeats)")
    }

    @Test func aDeepFlowSequenceIsAnErrorNotAStackOverflow() throws {
        let shallow = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(message(shallow) == "bomb.yaml:1:65: a collection nests 65 levels deep, past the limit of 64 levels")
        // Past 1,000 levels libyaml stops first (it scans ahead of the events Relay counts).
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(
            message(deep)
                == "bomb.yaml:1:1: nesting past 1000 levels (the YAML parser's own limit); the limit is 64 levels")
    }

    @Test func aDeepBlockMappingIsAnError() throws {
        let text = (0..<1_000).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " v\n"
        let found = message(text)
        #expect(found == "bomb.yaml:65:65: a collection nests 65 levels deep, past the limit of 64 levels")
    }

    @Test func aliasesCannotStackNestingPastTheLimit() throws {
        // Each anchor is 40 levels deep and within the limit; the alias puts 40 more levels under 30.
        let deep = String(repeating: "[", count: 40) + "1" + String(repeating: "]", count: 40)
        let text = "a: &a \(deep)\nb: " + String(repeating: "[", count: 30) + "*a" + String(repeating: "]", count: 30)
        let found = message(text)
        #expect(found == "bomb.yaml:2:34: alias *a nests 71 levels deep, past the limit of 64 levels")
    }

    @Test func documentsAtTheLimitsRead() throws {
        let deep = String(repeating: "[", count: 64) + "1" + String(repeating: "]", count: 64)
        #expect(message(deep) == "no error")
        // The document, a, the list, 1, 2, b, and the alias's three: 9 nodes; a, 1, 2, b and the alias's 1, 2: 6 bytes.
        let limits = YAMLLimits(maxDepth: 64, maxNodes: 9, maxScalarBytes: 6)
        #expect(message("a: &x [1, 2]\nb: *x\n", limits: limits) == "no error")
        #expect(
            message("a: &x [1, 2]\nb: *x\nc: 3\n", limits: limits)
                == "bomb.yaml:3:1: a scalar brings the document to 10 nodes, past the limit of 9")
    }

    @Test func anchorsAndMergeKeysStillWork() throws {
        let node = try YAMLDocument.parse(
            """
            base: &base {type: string, required: true}
            a: {<<: *base, description: A}
            b:
              <<: *base
              required: false
            list: [*base, *base]
            """, file: "t.yaml")
        #expect(node["a"]?.json == ["type": "string", "required": true, "description": "A"])
        #expect(node["b"]?.json == ["type": "string", "required": false])
        #expect(node["list"]?.json == [["type": "string", "required": true], ["type": "string", "required": true]])
    }

    @Test func otherComposerErrorsAreClear() {
        #expect(message("a: *nowhere\n") == "bomb.yaml:1:4: not valid YAML: found undefined alias *nowhere")
        #expect(
            message("a: 1\n---\nb: 2\n")
                == "bomb.yaml:2:1: not valid YAML: expected a single document, found another document")
    }
}
