import RelayCore
import Testing

/// What Relay does with JSON that is hostile or beyond a double: limits with clear errors, never a crash, and
/// integers of any size kept exactly (as Python's `json` keeps them).
@Suite struct JSONLimitsTests {
    static func nested(_ depth: Int, open: String = "[", close: String = "]", inner: String = "1") -> String {
        String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        let value = try JSONParser.parse(Self.nested(JSONLimits.maximumDepth))
        #expect(value.nests(deeperThan: JSONLimits.maximumDepth - 1))
        #expect(!value.nests(deeperThan: JSONLimits.maximumDepth))
    }

    @Test(arguments: [JSONLimits.maximumDepth + 1, 100_000])
    func deeperNestingIsAnErrorThatSaysSo(depth: Int) {
        for (open, close, inner) in [("[", "]", "1"), ("{\"a\":", "}", "1")] {
            do {
                _ = try JSONParser.parse(Self.nested(depth, open: open, close: close, inner: inner))
                Issue.record("\(depth) levels were accepted")
            } catch {
                #expect(error.kind == .limit)
                #expect(error.expected == "at most 512 levels of nested arrays and objects")
                #expect(error.line == 1)
                #expect(error.offset == JSONLimits.maximumDepth * open.utf8.count)
            }
        }
    }

    @Test func aStreamWithAValueTooDeepStopsWithTheError() {
        var parser = JSONParser("{\"log\": 1}\n" + Self.nested(100_000))
        #expect((try? parser.parseValue()) == ["log": 1])
        #expect(throws: JSONParseError.self) { try parser.parseValue() }
    }

    @Test func integersOfAnySizeAreKeptExactly() throws {
        let text = #"{"big":123456789012345678901234567890,"neg":-98765432109876543210,"max":9223372036854775807}"#
        let value = try JSONParser.parse(text)
        #expect(value["big"] == JSONValue.integer(decimal: "123456789012345678901234567890"))
        #expect(value["big"]?.typeName == "integer")
        #expect(value["big"]?.intValue == nil)
        #expect(value["max"] == .int(Int.max))
        #expect(JSONWriter.compact.string(value) == text)
        #expect(JSONWriter.python.string(value["neg"]!) == "-98765432109876543210")
        // Equal numbers are equal values, whichever way they were made.
        #expect(JSONValue.integer(decimal: "-0") == .int(0))
        #expect(JSONValue.integer(decimal: "9223372036854775807") == .int(Int.max))
        #expect(JSONValue.integer(truncating: 1e20) == JSONValue.integer(decimal: "100000000000000000000"))
        #expect(JSONValue.integer(truncating: -2.9) == .int(-2))
        #expect(JSONValue.integer(truncating: .infinity) == nil)
        #expect(value["big"]!.numericallyEquals(.double(123456789012345678901234567890.0)) == false)
        #expect(JSONValue.integer(decimal: "100000000000000000000")!.numericallyEquals(.double(1e20)))
        #expect(Set([value["big"]!, JSONValue.integer(decimal: "123456789012345678901234567890")!]).count == 1)
    }

    @Test func anIntegerOfMoreDigitsThanPythonReadsIsAnError() throws {
        let ok = String(repeating: "7", count: JSONLimits.maximumIntegerDigits)
        #expect(JSONWriter.compact.string(try JSONParser.parse(ok)) == ok)
        do {
            _ = try JSONParser.parse("[" + ok + "7]")
            Issue.record("4,301 digits were accepted")
        } catch {
            #expect(error.kind == .limit)
            #expect(error.found == "4301 digits")
            #expect(error.column == 2)
        }
    }

    @Test(arguments: ["1e999", "-1e400", "[1, 2.5e308]"])
    func aNumberBeyondADoubleIsAnError(text: String) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.kind == .limit)
            #expect(error.expected.contains("a number within a double's range"))
        }
    }

    @Test func pythonStyleReadsNonFiniteNumbersAsPythonDoes() throws {
        #expect(try JSONParser.parsePythonStyle("1e999") == .double(.infinity))
        #expect(try JSONParser.parsePythonStyle("[-Infinity]") == [.double(-.infinity)])
    }

    @Test func payloadProblemsNameWhere() throws {
        let plain: JSONValue = ["a": [1, 2]]
        #expect(plain.payloadProblem(at: "output") == nil)
        let deep = try JSONParser.parse(Self.nested(JSONLimits.maximumPayloadDepth + 1))
        #expect(deep.payloadProblem(at: "output") == "output nests deeper than 500 levels of arrays and objects")
        let fine = try JSONParser.parse(Self.nested(JSONLimits.maximumPayloadDepth))
        #expect(fine.payloadProblem(at: "output") == nil)
        let infinite: JSONValue = ["a": ["b": [1, .double(.infinity)]]]
        #expect(infinite.payloadProblem(at: "output") == "output.a.b[1] is Infinity, a number JSON cannot carry")
        #expect(JSONValue.double(.nan).payloadProblem(at: "input") == "input is NaN, a number JSON cannot carry")
    }

    /// Every recursive walk over a value is safe on the deepest value the parser gives, on a thread of the
    /// cooperative pool (whose stacks are smaller than the main thread's), in a debug build.
    @Test func everyWalkIsSafeAtTheLimit() async throws {
        let text = Self.nested(JSONLimits.maximumDepth / 2, open: "{\"k\":[", close: "]}", inner: "\"v\"")
        let value = try JSONParser.parse(String(text))
        let copy = try JSONParser.parse(String(text))
        let written = await Task.detached {
            var hasher = Hasher()
            value.hash(into: &hasher)
            _ = hasher.finalize()
            #expect(value == copy)
            #expect(value.numericallyEquals(copy))
            let rendered = try? Template.render(value, scope: Template.Scope(trigger: [:]))
            #expect(rendered == value)
            return JSONWriter.pretty.string(value).count + JSONWriter.python.string(value).count
        }.value
        #expect(written > 0)
    }
}
