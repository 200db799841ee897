import RelayCore

/// A `Decoder` that reads straight from a `JSONValue` (no text round trip), so that a `JSONValue` field of a
/// plugin's input keeps its exact value: key order, integer or float.
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: JSONValue, codingPath: [any CodingKey] = []) {
        self.value = value
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch(JSONObject.self) }
        return KeyedDecodingContainer(Keyed<Key>(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([JSONValue].self) }
        return Unkeyed(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        Single(value: value, codingPath: codingPath)
    }

    func mismatch(_ type: Any.Type) -> DecodingError {
        DecodingError.typeMismatch(
            type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(value.typeName)"))
    }

    struct Index: CodingKey {
        var stringValue: String { "\(intValue!)" }
        var intValue: Int?
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: JSONObject
        let codingPath: [any CodingKey]
        var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

        func value(_ key: Key) throws -> JSONValue {
            guard let value = object[key.stringValue] else {
                throw DecodingError.keyNotFound(
                    key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
            }
            return value
        }

        func decodeNil(forKey key: Key) throws -> Bool { object[key.stringValue].map(\.isNull) ?? true }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decodeValue(type, forKey: key) }

        // The scalars most fields are, read directly when the value has their type (anything else, an error among
        // them, goes the generic way: `decodeValue`'s conversions and messages).
        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            if case .string(let text) = try value(key) { return text }
            return try decodeValue(type, forKey: key)
        }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
            if case .bool(let flag) = try value(key) { return flag }
            return try decodeValue(type, forKey: key)
        }

        func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
            if case .int(let number) = try value(key) { return number }
            return try decodeValue(type, forKey: key)
        }

        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            switch try value(key) {
            case .double(let number): return number
            case .int(let number): return Double(number)
            default: return try decodeValue(type, forKey: key)
            }
        }

        private func decodeValue<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try JSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).decodeValue(type)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try JSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try JSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { JSONValueDecoder(value: .object(object), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            JSONValueDecoder(value: object[key.stringValue] ?? .null, codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [JSONValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        init(items: [JSONValue], codingPath: [any CodingKey]) {
            self.items = items
            self.codingPath = codingPath
        }

        mutating func next() throws -> JSONValueDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    JSONValue.self, .init(codingPath: codingPath, debugDescription: "the array has no more items"))
            }
            defer { currentIndex += 1 }
            return JSONValueDecoder(value: items[currentIndex], codingPath: codingPath + [Index(currentIndex)])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, items[currentIndex].isNull else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        let codingPath: [any CodingKey]

        func decodeNil() -> Bool { value.isNull }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONValueDecoder(value: value, codingPath: codingPath).decodeValue(type)
        }
    }

    /// Decodes `T`, with the scalar types read directly.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if type == JSONValue.self { return value as! T }
        switch value {
        case .bool(let b) where type == Bool.self: return b as! T
        case .string(let s) where type == String.self: return s as! T
        case .int(let i):
            if type == Int.self { return i as! T }
            if type == Double.self { return Double(i) as! T }
            if type == Float.self { return Float(i) as! T }
            if type == Int64.self { return Int64(i) as! T }
            if type == Int32.self, let v = Int32(exactly: i) { return v as! T }
            if type == UInt.self, let v = UInt(exactly: i) { return v as! T }
        case .bigInt:
            // Too large for every fixed-size integer type; a floating-point type takes it, rounded.
            if type == Double.self, let d = value.doubleValue { return d as! T }
            if type == Float.self, let d = value.doubleValue { return Float(d) as! T }
        case .double(let d):
            if type == Double.self { return d as! T }
            if type == Float.self { return Float(d) as! T }
            if type == Int.self, let v = Int(exactly: d) { return v as! T }
            if type == Int64.self, let v = Int64(exactly: d) { return v as! T }
        case .null:
            if type == Bool.self || type == String.self || type == Int.self || type == Double.self {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "found null"))
            }
        default:
            break
        }
        if type == Bool.self || type == String.self || type == Int.self || type == Double.self || type == Float.self
            || type == Int64.self || type == Int32.self || type == UInt.self
        {
            throw mismatch(type)
        }
        return try T(from: self)
    }
}
