import Foundation
import RelayCore
import Yams

/// Parses YAML text into `YAMLNode`s with PyYAML's YAML 1.1 scalar resolution.
public enum YAMLDocument {
    /// Parses the first document of `text`. An empty document is `null`.
    public static func parse(_ text: String, file: String) throws(RelayError) -> YAMLNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, PyYAMLResolver.resolver)
        } catch let error as YamlError {
            throw RelayError(.invalidYAML, "\(file):\(describe(error))", underlying: error)
        } catch {
            throw RelayError(.invalidYAML, "\(file): not valid YAML: \(error)")
        }
        guard let root else { return YAMLNode(value: .scalar(.null), line: 1, column: 1) }
        return convert(root)
    }

    private static func describe(_ error: YamlError) -> String {
        func format(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> String {
            var text = "\(mark.line):\(mark.column): not valid YAML: \(problem)"
            if let context { text += " (\(context.text) started at line \(context.mark.line), column \(context.mark.column))" }
            return text
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return format(context, problem, mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return "\(context.mark.line):\(context.mark.column): not valid YAML: key \(keys) appears more than once in one mapping (first here); keep one"
        default:
            return " not valid YAML: \(error)"
        }
    }

    private static func convert(_ node: Node) -> YAMLNode {
        let line = node.mark?.line ?? 0
        let column = node.mark?.column ?? 0
        switch node {
        case .scalar(let scalar):
            return YAMLNode(value: .scalar(resolve(scalar)), line: line, column: column, text: scalar.string)
        case .sequence(let sequence):
            return YAMLNode(value: .sequence(sequence.map(convert)), line: line, column: column)
        case .mapping(let mapping):
            var entries: [(key: YAMLNode, value: YAMLNode)] = []
            for (key, value) in mapping {
                if case .scalar(let k) = key, k.style == .plain, k.string == "<<", let merged = mergeEntries(value) {
                    entries.append(contentsOf: merged)
                } else {
                    entries.append((convert(key), convert(value)))
                }
            }
            return YAMLNode(value: .mapping(entries), line: line, column: column)
        case .alias(let alias):
            return YAMLNode(value: .scalar(.string("*\(alias.anchor.rawValue)")), line: line, column: column)
        }
    }

    /// `<<: *anchor` merge keys: the merged mapping's entries come first, so keys written beside them win.
    private static func mergeEntries(_ node: Node) -> [(key: YAMLNode, value: YAMLNode)]? {
        switch node {
        case .mapping:
            return convert(node).mapping
        case .sequence(let sequence):
            return sequence.compactMap { convert($0).mapping }.flatMap { $0 }
        default:
            return nil
        }
    }

    private static func resolve(_ scalar: Node.Scalar) -> YAMLNode.Scalar {
        // Quoted and block scalars are always strings; plain ones get PyYAML's implicit types. (Explicit tags
        // such as `!!str 1` are not honoured; real specs do not use them.)
        guard scalar.style == .plain || scalar.style == .any else { return .string(scalar.string) }
        return PyYAMLResolver.resolvePlain(scalar.string)
    }
}
