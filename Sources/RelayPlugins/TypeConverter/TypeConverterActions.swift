import Foundation
import RelayCore
import RelaySDK

/// The Type Converter plugin's actions, with the Python original's semantics (`int()`, `float()`, `str()`,
/// `json.dumps`, `json.loads`, `str.split`). Where the original builds a Python `set` (combine, diff, deduplicated
/// match), the order of its output is arbitrary; Relay returns the items in order of first appearance.
enum TypeConverter {
    static let actions: [AnyAction<NoConnection>] = [
        .init(BooleanToInteger()), .init(BooleanToString()), .init(IntegerToBoolean()), .init(IntegerToString()),
        .init(StringToBoolean()), .init(StringToInteger()), .init(StringToObject()), .init(ObjectToString()),
        .init(NumberToInteger()), .init(IntegerToNumber()), .init(StringToList()), .init(StringToFloat()),
        .init(ArrayToString()), .init(CombineArrays()), .init(ArrayDiff()), .init(ArrayMatch()),
    ]

    static func convertingError(_ data: String = "") -> PluginError {
        PluginError(cause: "Converting error.", assistance: "Check input", data: .string(data))
    }

    /// Items in order of first appearance, each once. Strings compare by code points, as in Python (Swift's `==`
    /// would treat `é` and `e\u{301}` as equal).
    static func distinct<S: Sequence>(_ items: S) -> [String] where S.Element == String {
        var seen = Set<[UInt8]>()
        return items.filter { seen.insert(Array($0.utf8)).inserted }
    }

    static func key(_ text: String) -> [UInt8] { Array(text.utf8) }
}

struct ValueInput: Decodable, Sendable { var input: JSONValue }
struct ValueOutput: Encodable, Sendable { var output: JSONValue }

struct BooleanToInteger: PluginAction {
    typealias Connection = NoConnection
    static let name = "boolean_to_integer"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        ValueOutput(output: .int(input.input == .bool(true) ? 1 : 0))
    }
}

struct BooleanToString: PluginAction {
    typealias Connection = NoConnection
    static let name = "boolean_to_string"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        ValueOutput(output: .string(PythonValue.str(input.input).lowercased()))
    }
}

struct IntegerToBoolean: PluginAction {
    typealias Connection = NoConnection
    static let name = "integer_to_boolean"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        ValueOutput(output: .bool(!(input.input.doubleValue == 0)))
    }
}

struct IntegerToString: PluginAction {
    typealias Connection = NoConnection
    static let name = "integer_to_string"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        ValueOutput(output: .string(PythonValue.str(input.input)))
    }
}

struct StringToBoolean: PluginAction {
    typealias Connection = NoConnection
    static let name = "string_to_boolean"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        guard case .string(let text) = input.input else {
            throw TypeConverter.convertingError("'\(input.input.typeName)' object has no attribute 'lower'")
        }
        return ValueOutput(output: .bool(text.lowercased() == "true"))
    }
}

struct StringToInteger: PluginAction {
    typealias Connection = NoConnection
    static let name = "string_to_integer"
    struct Input: Decodable, Sendable {
        var input: String
        var strip: Bool?
    }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> ValueOutput {
        if input.strip == false {
            // The original checks `re.match(r"^\d+", input)` before converting.
            guard let first = input.input.unicodeScalars.first, PythonText.digitValue(first) != nil else {
                throw PluginError(cause: "Converting error", assistance: "When strip is enabled only number is allowed")
            }
        }
        let digits = input.input.unicodeScalars.filter { PythonText.digitValue($0) != nil }.count
        if digits > 4300 {
            throw TypeConverter.convertingError(
                "Exceeds the limit (4300 digits) for integer string conversion: value has \(digits) "
                    + "digits; use sys.set_int_max_str_digits() to increase the limit"
            )
        }
        guard let value = PythonText.int(input.input) else {
            throw TypeConverter.convertingError(
                "invalid literal for int() with base 10: \(PythonText.repr(input.input))")
        }
        return ValueOutput(output: value)
    }
}

struct StringToObject: PluginAction {
    typealias Connection = NoConnection
    static let name = "string_to_object"
    struct Input: Decodable, Sendable { var input: String }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> ValueOutput {
        do {
            return ValueOutput(output: try JSONParser.parsePythonStyle(input.input))
        } catch {
            throw TypeConverter.convertingError(PythonJSONError.message(for: error, in: input.input))
        }
    }
}

struct ObjectToString: PluginAction {
    typealias Connection = NoConnection
    static let name = "object_to_string"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        ValueOutput(output: .string(JSONWriter.python.string(input.input)))
    }
}

struct NumberToInteger: PluginAction {
    typealias Connection = NoConnection
    static let name = "number_to_integer"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        switch input.input {
        case .int, .bigInt: return ValueOutput(output: input.input)
        case .double(let value):
            // Python's int(float) is exact at any size (int(1e300) has 301 digits).
            guard let truncated = JSONValue.integer(truncating: value) else {
                throw TypeConverter.convertingError("cannot convert float \(JSONWriter.pythonRepr(value)) to integer")
            }
            return ValueOutput(output: truncated)
        default:
            throw TypeConverter.convertingError(
                "int() argument must be a string, a bytes-like object or a real number, not '\(input.input.typeName)'")
        }
    }
}

struct IntegerToNumber: PluginAction {
    typealias Connection = NoConnection
    static let name = "integer_to_number"
    func run(_ input: ValueInput, context: StepContext<NoConnection>) async throws -> ValueOutput {
        // The original returns int(input): an integer, which is a valid number.
        try await NumberToInteger().run(input, context: context)
    }
}

struct StringToList: PluginAction {
    typealias Connection = NoConnection
    static let name = "string_to_list"
    struct Input: Decodable, Sendable {
        var input: String
        var delimiter: String?
    }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> ValueOutput {
        let delimiter = (input.delimiter?.isEmpty ?? true) ? "\n" : input.delimiter!
        return ValueOutput(output: .array(PythonValue.split(input.input, by: delimiter).map(JSONValue.string)))
    }
}

struct StringToFloat: PluginAction {
    typealias Connection = NoConnection
    static let name = "string_to_float"
    struct Input: Decodable, Sendable { var input: String }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> ValueOutput {
        guard let value = PythonText.float(input.input) else {
            throw TypeConverter.convertingError("could not convert string to float: \(PythonText.repr(input.input))")
        }
        return ValueOutput(output: .double(value))
    }
}

struct ArrayToString: PluginAction {
    typealias Connection = NoConnection
    static let name = "array_to_string"
    struct Input: Decodable, Sendable {
        var input: [String]
        var delimiter: String?
    }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> ValueOutput {
        let delimiter = (input.delimiter?.isEmpty ?? true) ? " " : input.delimiter!
        return ValueOutput(output: .string(input.input.joined(separator: delimiter)))
    }
}

struct CombineArrays: PluginAction {
    typealias Connection = NoConnection
    static let name = "combine_arrays"
    struct Input: Decodable, Sendable {
        var array1: [String]
        var array2: [String]
        var array3: [String]?
        var array4: [String]?
        var array5: [String]?
    }
    struct Output: Encodable, Sendable {
        var combinedArray: [String]

        enum CodingKeys: String, CodingKey {
            case combinedArray = "combined_array"
        }
    }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
        let all = input.array1 + input.array2 + (input.array3 ?? []) + (input.array4 ?? []) + (input.array5 ?? [])
        return Output(combinedArray: TypeConverter.distinct(all))
    }
}

struct ArrayDiff: PluginAction {
    typealias Connection = NoConnection
    static let name = "array_diff"
    struct Input: Decodable, Sendable {
        var array1: [String]
        var array2: [String]
    }
    struct Output: Encodable, Sendable {
        var differenceArray: [String]

        enum CodingKeys: String, CodingKey {
            case differenceArray = "difference_array"
        }
    }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
        let exclude = Set(input.array2.map(TypeConverter.key))
        return Output(
            differenceArray: TypeConverter.distinct(input.array1.filter { !exclude.contains(TypeConverter.key($0)) }))
    }
}

struct ArrayMatch: PluginAction {
    typealias Connection = NoConnection
    static let name = "array_match"
    struct Input: Decodable, Sendable {
        var array1: [String]
        var array2: [String]
        var deduplicates: Bool?
    }
    struct Output: Encodable, Sendable {
        var matchesArray: [String]
        var count: Int

        enum CodingKeys: String, CodingKey {
            case matchesArray = "matches_array"
            case count
        }
    }
    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
        var matches: [String]
        if input.deduplicates ?? true {
            let second = Set(input.array2.map(TypeConverter.key))
            matches = TypeConverter.distinct(input.array1.filter { second.contains(TypeConverter.key($0)) })
        } else {
            // Each item of the second array matches at most once, as the original's list.remove does.
            var remaining = input.array2.map(TypeConverter.key)
            matches = []
            for item in input.array1 {
                if let index = remaining.firstIndex(of: TypeConverter.key(item)) {
                    matches.append(item)
                    remaining.remove(at: index)
                }
            }
        }
        return Output(matchesArray: matches, count: matches.count)
    }
}

/// Python's `str()` and `str.split()` for JSON values.
enum PythonValue {
    static func str(_ value: JSONValue) -> String {
        switch value {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int, .bigInt: return JSONWriter.compact.string(value)
        case .double(let d):
            return JSONWriter.pythonRepr(d).replacingOccurrences(of: "Infinity", with: "inf").replacingOccurrences(
                of: "NaN", with: "nan")
        case .string(let s): return s
        default: return JSONWriter.python.string(value)
        }
    }

    /// `text.split(separator)`: every occurrence splits, empty parts kept. Works on code points (Swift's
    /// `components(separatedBy:)` would not split `"\r\n"` on `"\n"`, a single Character).
    static func split(_ text: String, by separator: String) -> [String] {
        let bytes = Array(text.utf8)
        let needle = Array(separator.utf8)
        guard !needle.isEmpty else { return [text] }
        var parts: [String] = []
        var start = 0
        var index = 0
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], Array(bytes[index..<index + needle.count]) == needle {
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
                index += needle.count
                start = index
            } else {
                index += 1
            }
        }
        parts.append(String(decoding: bytes[start...], as: UTF8.self))
        return parts
    }
}
