import RelayCore
import RelaySDK
import Testing

/// `JSONValueCoder`: a native plugin's input and output types to and from `JSONValue`, without a text round trip.
/// Scalars take a direct path (their own overloads); what they do not take, errors among it, goes the generic way.
@Suite struct JSONValueCoderTests {
    struct Inner: Codable, Equatable {
        var name: String
        var tags: [String]
    }

    struct Fields: Codable, Equatable {
        var text: String
        var flag: Bool
        var count: Int
        var ratio: Double
        var missing: String?
        var present: Int?
        var inner: Inner
        var raw: JSONValue
    }

    static let fields = Fields(
        text: "é ☃", flag: true, count: -3, ratio: 1.0, missing: nil, present: 7,
        inner: Inner(name: "n", tags: ["a", "b"]), raw: ["z": 1, "a": [1.5, nil]])

    /// `json` with `key` set to `value`.
    static func setting(_ key: String, to value: JSONValue, in json: JSONValue) -> JSONValue {
        guard case .object(var object) = json else { return json }
        object[key] = value
        return .object(object)
    }

    @Test func aValueEncodesAsItsJSONAndDecodesBackTheSame() throws {
        let json = try JSONValueCoder.encode(Self.fields)
        #expect(
            JSONWriter.compact.string(json)
                == #"{"text":"é ☃","flag":true,"count":-3,"ratio":1.0,"present":7,"#
                + #""inner":{"name":"n","tags":["a","b"]},"raw":{"z":1,"a":[1.5,null]}}"#
        )
        #expect(try JSONValueCoder.decode(Fields.self, from: json) == Self.fields)
    }

    @Test func numbersConvertAsTheRuntimeAllows() throws {
        var json = try JSONValueCoder.encode(Self.fields)
        json = Self.setting("ratio", to: 2, in: json) // an integer where a float is expected
        json = Self.setting("count", to: 4.0, in: json) // a whole float where an integer is expected
        let decoded = try JSONValueCoder.decode(Fields.self, from: json)
        #expect(decoded.ratio == 2.0)
        #expect(decoded.count == 4)
    }

    @Test(arguments: [
        ("text", JSONValue.int(1), "text"), ("flag", "yes", "flag"), ("count", 1.5, "count"), ("ratio", "x", "ratio"),
        ("count", nil, "count"), ("present", "7", "present"),
    ])
    func aValueOfTheWrongTypeIsAnErrorNamingItsField(key: String, value: JSONValue, field: String) throws {
        let json = Self.setting(key, to: value, in: try JSONValueCoder.encode(Self.fields))
        do {
            _ = try JSONValueCoder.decode(Fields.self, from: json)
            Issue.record("decoded \(key) = \(value)")
        } catch let error as DecodingError {
            let path: [any CodingKey]
            switch error {
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
                .dataCorrupted(let context):
                path = context.codingPath
            @unknown default: path = []
            }
            #expect(path.map(\.stringValue) == [field], "\(error)")
        }
    }
}
