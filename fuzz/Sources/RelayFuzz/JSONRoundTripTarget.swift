import RelayCore

/// JSONParser and JSONWriter. Invariants:
/// - strict parsing accepts a subset of Python-style parsing, with the identical value;
/// - parsing bytes and parsing the same bytes as a String give the same result;
/// - for every writer (compact, Python's defaults, the reference layout, pretty, indent 0 with ASCII): what it writes
///   parses again (strictly, when the value came from strict parsing) to an identical value (numbers bit for bit,
///   key order kept unless sorted), and writing that value again gives the same bytes;
/// - ASCII-only writers write only ASCII, one-line writers write one line;
/// - equal values hash alike; an error's position lies inside the input.
enum JSONRoundTripTarget {
    static let writers: [(name: String, writer: JSONWriter)] = [
        ("compact", .compact), ("python", .python), ("reference", .reference), ("pretty", .pretty),
        ("indent0-ascii", JSONWriter(indent: 0, sortKeys: false, ensureASCII: true, compactSeparators: true)),
    ]

    static func run(_ bytes: [UInt8]) {
        let strict = parse(bytes, pythonStyle: false)
        let python = parse(bytes, pythonStyle: true)
        let fromString = Result { () throws(JSONParseError) in
            try JSONParser.parse(String(decoding: bytes, as: UTF8.self))
        }

        switch (strict, fromString) {
        case (.success(let a), .success(let b)):
            fuzzCheck(
                FuzzJSON.identical(a, b, keyOrder: true),
                "bytes and String parse differ: \(excerpt(a)) vs \(excerpt(b))")
        case (.failure(let error), .failure):
            fuzzCheck(
                error.offset >= 0 && error.offset <= bytes.count && error.line >= 1 && error.column >= 1,
                "error position outside the input (\(bytes.count) bytes): \(error)")
        case (.success, .failure(let error)), (.failure(let error), .success):
            fuzzCheck(false, "bytes and String parse disagree on validity: \(error)")
        }

        if case .success(let value) = strict {
            guard case .success(let pythonValue) = python else {
                return fuzzCheck(false, "strict JSON rejected by the Python-style parser: \(excerpt(value))")
            }
            fuzzCheck(FuzzJSON.identical(value, pythonValue, keyOrder: true), "strict and Python-style values differ")
            fuzzCheck(!FuzzJSON.containsNonFinite(value), "strict parse gave a non-finite number: \(excerpt(value))")
            roundTrip(value, pythonStyle: false)
        }
        if case .success(let value) = python { roundTrip(value, pythonStyle: true) }
    }

    /// Strict parsing (`JSONParser.parse`), or Python-style parsing of the same bytes.
    static func parse(_ bytes: [UInt8], pythonStyle: Bool) -> Result<JSONValue, JSONParseError> {
        guard pythonStyle else { return Result { () throws(JSONParseError) in try JSONParser.parse(bytes: bytes) } }
        var parser = JSONParser(bytes: bytes)
        parser.allowsNonFiniteNumbers = true
        return Result { () throws(JSONParseError) in
            let value = try parser.parseValue()
            // Trailing text: JSONParser.parsePythonStyle's error, which also checks that both readings agree.
            if !parser.atEnd() {
                _ = try JSONParser.parsePythonStyle(String(decoding: bytes, as: UTF8.self))
                fuzzCheck(false, "parsePythonStyle accepted text after the value")
            }
            return value
        }
    }

    static func roundTrip(_ value: JSONValue, pythonStyle: Bool) {
        if !FuzzJSON.containsNonFinite(value) {
            fuzzCheck(value == value, "a value without NaN is not equal to itself: \(excerpt(value))")
        }
        for (name, writer) in writers {
            let text = writer.bytes(value)
            if writer.ensureASCII { fuzzCheck(text.allSatisfy { $0 < 0x80 }, "\(name) wrote a non-ASCII byte") }
            if writer.indent == nil { fuzzCheck(!text.contains(0x0A), "\(name) wrote a line break on one line") }
            let again: JSONValue
            switch parse(text, pythonStyle: pythonStyle) {
            case .success(let parsed): again = parsed
            case .failure(let error):
                let written = String(decoding: text.prefix(400), as: UTF8.self)
                return fuzzCheck(false, "\(name) wrote text its parser rejects (\(error)): \(written)")
            }
            fuzzCheck(
                FuzzJSON.identical(value, again, keyOrder: !writer.sortKeys),
                "\(name) round trip changed the value: \(excerpt(value)) → \(excerpt(again))")
            fuzzCheck(writer.bytes(again) == text, "\(name) wrote the re-parsed value differently")
            if value == again { fuzzCheck(value.hashValue == again.hashValue, "equal values hash differently") }
        }
    }
}
