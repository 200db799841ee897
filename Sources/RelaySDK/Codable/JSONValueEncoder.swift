import RelayCore

/// An `Encoder` that builds a `JSONValue` directly: `Double`s stay floats (`1000.0`), keys keep the order they
/// are encoded in.
final class JSONValueEncoder: Encoder {
    /// Where an encoded value is stored once known: a reference so nested containers can fill their parent.
    final class Slot {
        var value: JSONValue?
        var object: JSONObject?
        var array: [Slot]?
        var objectSlots: [(String, Slot)]?

        func resolve() -> JSONValue {
            if let objectSlots {
                var object = JSONObject()
                for (key, slot) in objectSlots { object[key] = slot.resolve() }
                return .object(object)
            }
            if let array { return .array(array.map { $0.resolve() }) }
            return value ?? .null
        }
    }

    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let slot: Slot

    init(codingPath: [any CodingKey] = [], slot: Slot = Slot()) {
        self.codingPath = codingPath
        self.slot = slot
    }

    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let encoder = JSONValueEncoder()
        try encoder.encodeValue(value)
        return encoder.slot.resolve()
    }

    func encodeValue<T: Encodable>(_ value: T) throws {
        switch value {
        case let json as JSONValue: slot.value = json
        case let b as Bool: slot.value = .bool(b)
        case let s as String: slot.value = .string(s)
        case let i as Int: slot.value = .int(i)
        case let i as Int64: slot.value = .int(Int(i))
        case let i as Int32: slot.value = .int(Int(i))
        case let u as UInt: slot.value = .int(Int(u))
        case let d as Double: slot.value = .double(d)
        case let f as Float: slot.value = .double(Double(f))
        default: try value.encode(to: self)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.objectSlots == nil { slot.objectSlots = [] }
        return KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.array == nil { slot.array = [] }
        return Unkeyed(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: JSONValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        /// The slot of `key` (a key encoded again replaces its value, in its first place).
        func slot(_ key: Key) -> Slot {
            let slot = Slot()
            if let index = encoder.slot.objectSlots?.firstIndex(where: { $0.0 == key.stringValue }) {
                encoder.slot.objectSlots![index].1 = slot
            } else {
                encoder.slot.objectSlots!.append((key.stringValue, slot))
            }
            return slot
        }

        func child(_ key: Key) -> JSONValueEncoder { JSONValueEncoder(codingPath: codingPath + [key], slot: slot(key)) }

        // The scalars most fields are go straight into their slot: the generic `encode` below would make an encoder
        // and a coding path for each, and cast the value to find its type.
        mutating func encode(_ value: String, forKey key: Key) throws { slot(key).value = .string(value) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { slot(key).value = .bool(value) }
        mutating func encode(_ value: Int, forKey key: Key) throws { slot(key).value = .int(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { slot(key).value = .double(value) }

        mutating func encodeNil(forKey key: Key) throws { slot(key).value = .null }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try child(key).encodeValue(value) }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
            // Absent optionals are left out, as JSONEncoder does.
            if let value { try child(key).encodeValue(value) }
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            child(key).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            child(key).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { encoder }
        mutating func superEncoder(forKey key: Key) -> any Encoder { child(key) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let encoder: JSONValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        var count: Int { encoder.slot.array?.count ?? 0 }

        func child() -> JSONValueEncoder {
            let slot = Slot()
            encoder.slot.array!.append(slot)
            return JSONValueEncoder(codingPath: codingPath + [JSONValueDecoder.Index(count - 1)], slot: slot)
        }

        mutating func encodeNil() throws { child().slot.value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws { try child().encodeValue(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
            NestedKey
        > {
            child().container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { child().unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { child() }
    }

    struct Single: SingleValueEncodingContainer {
        let encoder: JSONValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        mutating func encodeNil() throws { encoder.slot.value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeValue(value) }
    }
}
