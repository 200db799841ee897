import Foundation
import Testing

@testable import RelayCore

@Suite struct JSONParserTests {
    @Test func keepsIntegersApartFromFloats() throws {
        let value = try JSONParser.parse(#"{"a": 1, "b": 1.0, "c": -0, "d": 1e3, "e": 12345678901234567890}"#)
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .double(1.0))
        #expect(value["c"] == .int(0))
        #expect(value["d"] == .double(1000))
        #expect(value["e"] == JSONValue.integer(decimal: "12345678901234567890"))
        #expect(value["e"]?.typeName == "integer")
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#"["a\"b\\c\/d\n", "\u00e9\ud83d\ude00", "\ud800x"]"#)
        #expect(value == .array(["a\"b\\c/d\n", "é😀", "\u{FFFD}x"]))
    }

    @Test(arguments: [
        ("{\"a\":}", 1, 6, "a JSON value"),
        ("[1,\n 2,,]", 2, 4, "a JSON value"),
        ("{\"a\" 1}", 1, 6, "':' after an object key"),
        ("[1] x", 1, 5, "end of input after the JSON value"),
        ("\"abc", 1, 5, "'\"' closing a string"),
        ("01", 1, 2, "end of input after the JSON value"),
    ])
    func reportsWhereAndWhat(text: String, line: Int, column: Int, expected: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.line == line)
            #expect(error.column == column)
            #expect(error.expected == expected)
        }
    }

    @Test func readsAStreamOfValues() throws {
        var parser = JSONParser("{\"log\": 1}\n{\"log\": 2} [3]\n")
        var values: [JSONValue] = []
        while !parser.atEnd() { values.append(try parser.parseValue()) }
        #expect(values == [["log": 1], ["log": 2], [3]])
    }
}

@Suite struct JSONWriterTests {
    @Test func writesLikePythonJSONDumpsWithIndentOneAndSortedKeys() {
        let value: JSONValue = ["b": [1, 2.5, "é"], "a": [:], "c": [], "d": ["z": nil, "y": true]]
        let expected = """
            {
             "a": {},
             "b": [
              1,
              2.5,
              "\\u00e9"
             ],
             "c": [],
             "d": {
              "y": true,
              "z": null
             }
            }
            """
        #expect(JSONWriter.reference.string(value) == expected)
    }

    /// Integers are written digit by digit (not through `String(_:)`): the same text, at the extremes too.
    @Test func writesIntegersAsStringDoes() {
        var generator = SystemRandomNumberGenerator()
        var values: [Int] = [0, 1, -1, 9, 10, -10, 99, 100, Int.max, Int.min, Int.max - 1, Int.min + 1]
        for _ in 0..<10_000 {
            values.append(Int.random(in: Int.min...Int.max, using: &generator) >> Int.random(in: 0...63))
        }
        for value in values {
            #expect(JSONWriter.compact.string(.int(value)) == String(value))
            #expect(JSONWriter.compact.string(["n": .int(value)]) == #"{"n":\#(value)}"#)
        }
    }

    @Test func writesCompactJSON() {
        #expect(JSONWriter.compact.string(["a": [1, "x\u{1}"]]) == #"{"a":[1,"x\u0001"]}"#)
    }

    @Test(arguments: [
        (1.0, "1.0"), (0.1, "0.1"), (1e16, "1e+16"), (1.5e16, "1.5e+16"), (1e15, "1000000000000000.0"),
        (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-7, "-2.5e-07"), (123.456, "123.456"), (-0.0, "-0.0"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (-42.0, "-42.0"),
        (9999999999999998.0, "9999999999999998.0"),
        (-9.007199254740993e15, "-9007199254740992.0"),
    ])
    func formatsFloatsAsPythonRepr(value: Double, expected: String) {
        #expect(JSONWriter.pythonRepr(value) == expected)
    }

    /// The fast path for Swift's text without an exponent gives what taking its digits apart gives.
    @Test func pythonReprsFastPathAgreesWithTheDigitsTakenApart() {
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = [1e-4, 1e-4.nextDown, 1e-4.nextUp, 1e16.nextDown, 0.1, 2.5, 1796449806.6356902]
        for _ in 0..<50_000 {
            let magnitude = Double.random(in: -6...17, using: &generator)
            let value = Double.random(in: 1..<10, using: &generator) * pow(10, magnitude.rounded(.down))
            values.append(Bool.random(using: &generator) ? value : -value)
        }
        for value in values where value.rounded(.towardZero) != value {
            #expect(JSONWriter.pythonRepr(value) == JSONWriter.pythonReprTakenApart(value), "\(value)")
        }
    }

    @Test func roundTripsThroughTheParser() throws {
        let value: JSONValue = ["k": ["😀", "\"q\"", 3, -4.25, false, nil, ["n": [[]]]]]
        #expect(try JSONParser.parse(JSONWriter.compact.string(value)) == value)
        #expect(try JSONParser.parse(JSONWriter.reference.string(value)) == value)
    }
}

@Suite struct JSONWriterEscapingTests {
    /// Python: json.dumps('\x7f\u00e9\U0001F600"\\\n\x01') == '"\\u007f\\u00e9\\ud83d\\ude00\\"\\\\\\n\\u0001"'
    @Test func escapesLikePythonEnsureASCII() {
        let text = JSONWriter.reference.string(.string("\u{7F}é😀\"\\\n\u{1}"))
        #expect(text == #""\u007f\u00e9\ud83d\ude00\"\\\n\u0001""#)
    }

    @Test func keepsUnicodeWhenNotEnsuringASCII() {
        #expect(JSONWriter.compact.string(.string("é😀\u{7F}")) == "\"é😀\u{7F}\"")
    }
}
