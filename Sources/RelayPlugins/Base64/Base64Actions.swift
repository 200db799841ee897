import RelayCore
import RelaySDK

/// `base64/encode`: the same output as the Python plugin's `base64.standard_b64encode(content.encode("utf-8"))`.
struct Base64Encode: PluginAction {
    typealias Connection = NoConnection
    static let name = "encode"

    struct Input: Decodable, Sendable { var content: String }
    struct Output: Encodable, Sendable { var data: String }

    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
        Output(data: PythonBase64.encode(Array(input.content.utf8)))
    }
}

/// `base64/decode`: CPython's lenient decoding, then UTF-8 with `errors` = `replace`, `ignore` or strict
/// (`nothing`, the default); failures are the original's PluginException.
struct Base64Decode: PluginAction {
    typealias Connection = NoConnection
    static let name = "decode"

    struct Input: Decodable, Sendable {
        var base64: String
        var errors: String?
    }

    struct Output: Encodable, Sendable { var data: String }

    func run(_ input: Input, context: StepContext<NoConnection>) async throws -> Output {
        let mode: PythonUTF8.Errors =
            input.errors == "replace" ? .replace : input.errors == "ignore" ? .ignore : .strict
        do {
            let bytes = try PythonBase64.decode(input.base64)
            return Output(data: try PythonUTF8.decode(bytes, errors: mode))
        } catch {
            context.logger.error("An error has occurred while decoding")
            throw PluginError(
                cause: "Failed to decode because valid base64 input was not provided.",
                assistance:
                    "If you would like continue to attempt to decode the input try setting the value of "
                    + "the error field to ignore errors or to replace the characters.",
                data: .string("\(error)"))
        }
    }
}
