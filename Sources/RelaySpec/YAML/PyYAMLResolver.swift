import Foundation
import Yams

/// PyYAML's implicit resolvers for plain scalars (YAML 1.1), which differ from Yams' defaults in small ways that
/// matter for byte-identical output: a float needs a decimal point (`1e5` is a string), `0777` is octal.
enum PyYAMLResolver {
    /// PyYAML's implicit resolution of a plain (unquoted) scalar, without running six regular expressions on
    /// every one of them (most spec scalars are text).
    static func resolvePlain(_ text: String) -> YAMLNode.Scalar {
        guard let first = text.unicodeScalars.first else { return .null }
        switch first {
        case "~", "n", "N":
            if ["~", "null", "Null", "NULL"].contains(text) { return .null }
            if ["no", "No", "NO"].contains(text) { return .bool(false) }
            return .string(text)
        case "y", "Y", "t", "T", "f", "F", "o", "O":
            if ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"].contains(text) { return .bool(true) }
            if ["false", "False", "FALSE", "off", "Off", "OFF"].contains(text) { return .bool(false) }
            return .string(text)
        case "<":
            return .string(text)
        case "0"..."9", "+", "-", ".":
            let range = NSRange(text.startIndex..., in: text)
            if intPattern.firstMatch(in: text, range: range) != nil {
                return int(text).map(YAMLNode.Scalar.int) ?? .string(text)
            }
            if floatPattern.firstMatch(in: text, range: range) != nil {
                return float(text).map(YAMLNode.Scalar.double) ?? .string(text)
            }
            if timestampPattern.firstMatch(in: text, range: range) != nil { return .timestamp(text) }
            return .string(text)
        default:
            return .string(text)
        }
    }

    // swiftlint:disable force_try
    static let bool = try! Resolver.Rule(
        .bool, "^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
    static let int = try! Resolver.Rule(
        .int,
        "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
            + "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
    )
    static let float = try! Resolver.Rule(
        .float,
        "^(?:[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
            + "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$"
    )
    static let merge = try! Resolver.Rule(.merge, "^(?:<<)$")
    static let null = try! Resolver.Rule(.null, "^(?:~|null|Null|NULL|)$")
    static let timestamp = try! Resolver.Rule(
        .timestamp,
        "^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
            + "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]"
            + "(?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    )
    static let intPattern = try! NSRegularExpression(pattern: int.pattern)
    static let floatPattern = try! NSRegularExpression(pattern: float.pattern)
    static let timestampPattern = try! NSRegularExpression(pattern: timestamp.pattern)
    // swiftlint:enable force_try

    /// PyYAML's `construct_yaml_int`.
    static func int(_ text: String) -> Int? {
        var value = text.replacingOccurrences(of: "_", with: "")
        var sign = 1
        if value.hasPrefix("-") {
            sign = -1
            value.removeFirst()
        } else if value.hasPrefix("+") {
            value.removeFirst()
        }
        if value == "0" { return 0 }
        if value.hasPrefix("0b") { return Int(value.dropFirst(2), radix: 2).map { sign * $0 } }
        if value.hasPrefix("0x") { return Int(value.dropFirst(2), radix: 16).map { sign * $0 } }
        if value.hasPrefix("0") { return Int(value.dropFirst(1), radix: 8).map { sign * $0 } }
        if value.contains(":") {
            // Base 60 (`1:30` is 90). Past Int's range it is no integer here: the text stays a string.
            var result = 0
            for part in value.split(separator: ":") {
                guard let digit = Int(part) else { return nil }
                let (shifted, overflow1) = result.multipliedReportingOverflow(by: 60)
                let (sum, overflow2) = shifted.addingReportingOverflow(digit)
                if overflow1 || overflow2 { return nil }
                result = sum
            }
            return sign * result
        }
        return Int(value).map { sign * $0 }
    }

    /// PyYAML's `construct_yaml_float`.
    static func float(_ text: String) -> Double? {
        var value = text.replacingOccurrences(of: "_", with: "").lowercased()
        var sign = 1.0
        if value.hasPrefix("-") {
            sign = -1
            value.removeFirst()
        } else if value.hasPrefix("+") {
            value.removeFirst()
        }
        if value == ".inf" { return sign * .infinity }
        if value == ".nan" { return .nan }
        if value.contains(":") {
            var result = 0.0
            for part in value.split(separator: ":") {
                guard let digit = Double(part) else { return nil }
                result = result * 60 + digit
            }
            return sign * result
        }
        if value.hasSuffix(".") { value += "0" }
        if value.hasPrefix(".") { value = "0" + value }
        return Double(value).map { sign * $0 }
    }
}
