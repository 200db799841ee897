import Foundation
import RelayCore
import RelaySDK
import RelaySpec
import Testing

@testable import RelayPlugins

func runAction(_ plugin: Plugin, _ action: String, _ input: JSONValue, connection: JSONValue = [:]) async -> StepEvent {
    await PluginHost(plugin: plugin).run(StepStart(step: .action(action), input: input, connection: connection))
}

@Suite struct Base64PluginTests {
    let plugin = try! NativePlugins.base64()

    @Test(arguments: [
        ("Rapid7 InsightConnect", "UmFwaWQ3IEluc2lnaHRDb25uZWN0"), ("é😀", "w6nwn5iA"), ("a", "YQ=="), ("ab", "YWI="),
    ])
    func encodes(text: String, expected: String) async {
        let event = await runAction(plugin, "encode", ["content": .string(text)])
        #expect(event.output == ["data": .string(expected)])
    }

    @Test(arguments: [
        // CPython skips characters outside the alphabet and stops at the padding that completes a quantum.
        ("UmFwaWQ3IEluc2lnaHRDb25uZWN0IQ==", "Rapid7 InsightConnect!"),
        ("UmFw\naWQ3", "Rapid7"), ("YQ==trailing", "a"), ("Y Q = =", "a"), ("!!!", ""),
    ])
    func decodesLikeCPython(encoded: String, expected: String) async {
        let event = await runAction(plugin, "decode", ["base64": .string(encoded)])
        #expect(event.output == ["data": .string(expected)], "\(event.error ?? "")")
    }

    @Test(arguments: [
        ("YQ", "Incorrect padding"),
        (
            "UmFwaWQ3=x",
            "Invalid base64-encoded string: number of data characters (9) cannot be 1 more than a multiple of 4"
        ),
        ("é", "string argument should contain only ASCII characters"),
        ("/w==", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        ("4oI=", "'utf-8' codec can't decode bytes in position 0-1: unexpected end of data"),
    ])
    func reportsTheOriginalsErrors(encoded: String, data: String) async {
        let event = await runAction(plugin, "decode", ["base64": .string(encoded)])
        #expect(event.status == .error)
        #expect(
            event.exception
                == StepException(
                    cause: "Failed to decode because valid base64 input was not provided.",
                    assistance:
                        "If you would like continue to attempt to decode the input try setting the value "
                        + "of the error field to ignore errors or to replace the characters.",
                    data: .string(data)))
    }

    /// The runtime rejects an empty string in a required input before the action runs.
    @Test func anEmptyRequiredInputIsRejected() async {
        let event = await runAction(plugin, "encode", ["content": ""])
        #expect(event.status == .error)
        #expect(event.error == "action input is invalid: input.content: required input is an empty string")
    }

    @Test func replacesOrIgnoresInvalidUTF8() async {
        // 0x61 0xFF 0xE2 0x82 0x62: "a", an invalid byte, a truncated sequence, "b".
        let encoded = PythonBase64.encode([0x61, 0xFF, 0xE2, 0x82, 0x62])
        #expect(
            await runAction(plugin, "decode", ["base64": .string(encoded), "errors": "replace"]).output == [
                "data": "a\u{FFFD}\u{FFFD}b"
            ])
        #expect(
            await runAction(plugin, "decode", ["base64": .string(encoded), "errors": "ignore"]).output == ["data": "ab"]
        )
    }
}

@Suite struct HashitPluginTests {
    let plugin = try! NativePlugins.hashit()

    @Test func hashesText() async {
        let event = await runAction(plugin, "string", ["string": "hello world"])
        #expect(
            event.output == [
                "md5": "5eb63bbbe01eeed093cb22bb8f5acdc3",
                "sha1": "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed",
                "sha256": "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
                "sha512": .string(
                    "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f"
                        + "989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"),
            ])
    }

    @Test func hashesBytesAndRejectsBadBase64LikeTheOriginal() async {
        let bytes = await runAction(plugin, "bytes", ["bytes": "aGVsbG8gd29ybGQ="])
        #expect(bytes.output?["md5"] == "5eb63bbbe01eeed093cb22bb8f5acdc3")
        let bad = await runAction(plugin, "bytes", ["bytes": "aGVsbG8"])
        #expect(bad.status == .error)
        #expect(bad.error == "Incorrect padding")
        #expect(bad.exception == nil)
    }
}

@Suite struct TypeConverterPluginTests {
    let plugin = try! NativePlugins.typeConverter()

    func output(_ action: String, _ input: JSONValue) async -> JSONValue? {
        let event = await runAction(plugin, action, input)
        return event.status == .ok
            ? event.output : .string("error: \(event.exception?.data.stringValue ?? event.error ?? "")")
    }

    @Test func convertsScalarsAsPythonDoes() async {
        #expect(await output("boolean_to_integer", ["input": true]) == ["output": 1])
        #expect(await output("boolean_to_string", ["input": false]) == ["output": "false"])
        #expect(await output("integer_to_boolean", ["input": 0]) == ["output": false])
        #expect(await output("integer_to_string", ["input": -12]) == ["output": "-12"])
        #expect(await output("string_to_boolean", ["input": "TRUE"]) == ["output": true])
        #expect(await output("string_to_boolean", ["input": "yes"]) == ["output": false])
        #expect(await output("string_to_integer", ["input": " 1_000 "]) == ["output": 1000])
        #expect(
            await output("string_to_integer", ["input": "1.5"])
                == "error: invalid literal for int() with base 10: '1.5'")
        #expect(await output("string_to_integer", ["input": " 12", "strip": false]) == "error: ")
        #expect(await output("string_to_float", ["input": " 1e3 "]) == ["output": 1000.0])
        #expect(await output("string_to_float", ["input": "abc"]) == "error: could not convert string to float: 'abc'")
        #expect(await output("number_to_integer", ["input": -2.9]) == ["output": -2])
        #expect(await output("integer_to_number", ["input": 7]) == ["output": 7])
    }

    @Test func convertsTextAndObjects() async {
        #expect(
            await output("object_to_string", ["input": ["b": 1, "a": "é", "c": [1.0, nil]]]) == [
                "output": #"{"b": 1, "a": "\u00e9", "c": [1.0, null]}"#
            ])
        #expect(
            await output("string_to_object", ["input": #"{"z": 1, "a": [true]}"#]) == ["output": ["z": 1, "a": [true]]])
        #expect(await output("string_to_object", ["input": " "]) == "error: Expecting value: line 1 column 2 (char 1)")
        #expect(
            await output("string_to_object", ["input": #"{"a": 1} x"#])
                == "error: Extra data: line 1 column 10 (char 9)")
        #expect(await output("string_to_list", ["input": "a\nb\n"]) == ["output": ["a", "b", ""]])
        #expect(await output("string_to_list", ["input": "a, b", "delimiter": ", "]) == ["output": ["a", "b"]])
        #expect(await output("array_to_string", ["input": ["a", "b"]]) == ["output": "a b"])
        #expect(await output("array_to_string", ["input": ["a", "b"], "delimiter": "-"]) == ["output": "a-b"])
    }

    @Test func combinesComparesAndMatchesArrays() async {
        #expect(
            await output("combine_arrays", ["array1": ["a", "b"], "array2": ["b", "c"], "array3": ["a", "d"]]) == [
                "combined_array": ["a", "b", "c", "d"]
            ])
        #expect(
            await output("array_diff", ["array1": ["a", "b", "a", "c"], "array2": ["b"]]) == [
                "difference_array": ["a", "c"]
            ])
        #expect(
            await output("array_match", ["array1": ["a", "b", "a"], "array2": ["a", "a", "c"]]) == [
                "matches_array": ["a"], "count": 1,
            ])
        #expect(
            await output(
                "array_match", ["array1": ["a", "b", "a", "a"], "array2": ["a", "a", "c"], "deduplicates": false]) == [
                    "matches_array": ["a", "a"], "count": 2,
                ])
    }
}

/// The native re-implementations have the interface of the real plugins: same plugin name, action names, input
/// and output names, types, required flags and enums (compared through the generated schemas with the corpus).
@Suite struct NativeInterfaceTests {
    static let corpus: String = {
        if let path = ProcessInfo.processInfo.environment["RELAY_CORPUS"], !path.isEmpty { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "shared/corpus/insightconnect"
            ).path
    }()

    /// Keeps what makes an interface: property names, types, formats, items, enums, required, $refs.
    static func shape(_ schema: JSONValue) -> JSONValue {
        switch schema {
        case .object(let object):
            var kept = JSONObject()
            for (key, value) in object where !["title", "description", "order", "default", "example"].contains(key) {
                kept[key] = key == "properties" ? .object((value.objectValue ?? [:]).mapValues(shape)) : shape(value)
            }
            return .object(kept)
        case .array(let items): return .array(items.map(shape))
        default: return schema
        }
    }

    @Test(
        .enabled(if: FileManager.default.fileExists(atPath: corpus + "/schemas")),
        arguments: [
            ("base64", "base64"), ("hashit", "hashit"), ("type_converter", "type_converter"),
        ])
    func matchesTheOriginalInterface(native: String, original: String) throws {
        let plugin = try NativePlugins.all()[native]!
        let expected = try JSONParser.parse(
            String(contentsOfFile: "\(Self.corpus)/schemas/\(original).json", encoding: .utf8))
        #expect(plugin.name == original)
        #expect(Self.shape(plugin.schemas) == Self.shape(expected))
    }
}

@Suite struct SleepPluginTests {
    let plugin = try! NativePlugins.sleep()

    @Test func sleepsTheIntervalAndSaysSo() async {
        let clock = ContinuousClock()
        let start = clock.now
        let event = await runAction(plugin, "sleep", ["interval": 1])
        #expect(clock.now - start >= .seconds(1))
        #expect(event.status == .ok)
        #expect(event.output == ["slept": 1])
        #expect(await runAction(plugin, "sleep", ["interval": 0]).output == ["slept": 0])
    }

    @Test func aNegativeOrMissingIntervalIsWrongInput() async {
        let negative = await runAction(plugin, "sleep", ["interval": -1])
        #expect(negative.status == .error)
        #expect(negative.exception?.cause == "Wrong input")
        #expect(negative.exception?.assistance == "Interval should not be less than zero", "the original's words")
        let missing = await runAction(plugin, "sleep", [:])
        #expect(missing.exception?.cause == "Wrong input")
        #expect(missing.exception?.assistance == "Interval is required: the seconds to sleep")
        let huge = await runAction(plugin, "sleep", ["interval": .int(Int.max)])
        #expect(
            huge.exception?.assistance == "Interval should be at most 31536000 seconds (a year)",
            "no trap on a deadline past Int64")
    }

    @Test func aSleepEndsWhenItsStepIsCancelled() async {
        // The wait is a task sleep, not a blocked thread: cancelling the step (its timeout, a shutdown) ends a
        // ten-minute sleep at once. The 300 s bound only guards against a hang (a trivial test can take 25 s while
        // the whole suite starts); a blocking sleep would take 600 s.
        let clock = ContinuousClock()
        let start = clock.now
        let step = Task { await runAction(plugin, "sleep", ["interval": 600]) }
        try? await Task.sleep(for: .milliseconds(200))
        step.cancel()
        let event = await step.value
        #expect(clock.now - start < .seconds(300))
        #expect(event.status == .error)
        #expect(event.output?["slept"] == nil)
    }
}
