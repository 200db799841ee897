import BigInt
import OrderedCollections

/// A JSON object: keys keep the order they were written in (as Python's dicts do), equality ignores it.
public typealias JSONObject = OrderedDictionary<String, JSONValue>

/// A JSON value. Integers and floating-point numbers are kept apart so that a value survives a round trip
/// through Relay exactly as the Python InsightConnect runtime would print it (`1` stays `1`, `1.0` stays `1.0`),
/// and object keys keep their order. Integers of any size are kept exactly, as Python's `json` keeps them: one
/// that fits 64 bits is `.int`, a larger one `.bigInt` (build integers with `JSONValue.integer(_:)`, which keeps
/// that rule, so that equal numbers are equal values).
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    /// An integer outside `Int`'s range (never one inside it).
    case bigInt(BigInt)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    /// The JSON type name used in validation messages (`string`, `integer`, `number`, `boolean`, `array`,
    /// `object`, `null`).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .bigInt: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
        default: return nil
        }
    }

    /// The number as a double (an integer beyond ±1.8e308 is infinite).
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .bigInt(let b): return Double(b)
        case .double(let d): return d
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// An integer value: `.int` when it fits 64 bits, `.bigInt` otherwise.
    public static func integer(_ value: BigInt) -> JSONValue {
        if let small = Int(exactly: value) { return .int(small) }
        return .bigInt(value)
    }

    /// The integer written in decimal ASCII digits (an optional `-` first), whatever its size; `nil` for other text.
    public static func integer(decimal text: String) -> JSONValue? {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = BigInt(text)
        else { return nil }
        return integer(value)
    }

    /// The integer a finite double holds after truncation toward zero (Python's `int(x)`), exactly, whatever its
    /// size; `nil` for NaN and the infinities.
    public static func integer(truncating value: Double) -> JSONValue? {
        guard value.isFinite, let exact = BigInt(exactly: value.rounded(.towardZero)) else { return nil }
        return integer(exact)
    }

    /// The integer, whatever its size; `nil` for anything that is not an integer.
    public var bigIntValue: BigInt? {
        switch self {
        case .int(let i): return BigInt(i)
        case .bigInt(let b): return b
        default: return nil
        }
    }

    /// `value["key"]` on an object; `nil` for anything else or a missing key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Equality as Python's `==` sees decoded JSON: `1 == 1.0`. Booleans are kept apart from numbers, which is
    /// stricter than Python (where `True == 1`).
    public func numericallyEquals(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Double(a) == b
        case (.bigInt(let a), .double(let b)), (.double(let b), .bigInt(let a)): return BigInt(exactly: b) == a
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.numericallyEquals($1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count
                && a.allSatisfy { key, value in b[key].map { value.numericallyEquals($0) } ?? false }
        default: return self == other
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: Hashable {
    /// Structural equality; the order of object keys does not matter.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.bigInt(let a), .bigInt(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (key, value) in a {
                guard let other = b[key], other == value else { return false }
            }
            return true
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b):
            hasher.combine(1)
            hasher.combine(b)
        case .int(let i):
            hasher.combine(2)
            hasher.combine(i)
        case .bigInt(let b):
            hasher.combine(7)
            hasher.combine(b)
        case .double(let d):
            hasher.combine(3)
            hasher.combine(d)
        case .string(let s):
            hasher.combine(4)
            hasher.combine(s)
        case .array(let a):
            hasher.combine(5)
            hasher.combine(a)
        case .object(let o):
            // Order-independent: combine the entries' hashes commutatively.
            hasher.combine(6)
            var sum = 0
            for (key, value) in o {
                var entry = Hasher()
                entry.combine(key)
                entry.combine(value)
                sum = sum &+ entry.finalize()
            }
            hasher.combine(sum)
        }
    }
}
