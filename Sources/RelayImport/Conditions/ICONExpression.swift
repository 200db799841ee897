import RelayCore

/// A decision's condition as InsightConnect stores it (`stepControlParams[].expression`): an AST beside the
/// text the user typed. The AST is read, not the text, which varies (`OR`/`or`/`||`, `=`/`==`, quotes).
public indirect enum ICONExpression: Sendable, Equatable {
    case binary(op: String, left: ICONExpression, right: ICONExpression)
    case unary(op: String, operand: ICONExpression)
    case function(name: String, arguments: [ICONExpression])
    /// A dotted path: `<node id>.changes.count`, `<loop id>.$item`, `$workflow.Max Hosts`.
    case variable(String)
    case literal(JSONValue)
    /// The right side of `=~`.
    case regexp(String)
    case array([ICONExpression])
    /// `{}`: the default branch, or a condition never configured.
    case empty

    /// Decodes an expression; errors name the JSON path below `path`. Nesting is bounded by
    /// `ImportLimits.maximumExpressionDepth`.
    public static func decode(_ json: JSONValue, path: String) throws(ExpressionError) -> ICONExpression {
        try decode(json, path: path, depth: 0)
    }

    private static func decode(_ json: JSONValue, path: String, depth: Int) throws(ExpressionError) -> ICONExpression {
        guard depth <= ImportLimits.maximumExpressionDepth else {
            throw ExpressionError(
                path: path, message: "nests deeper than \(ImportLimits.maximumExpressionDepth) levels")
        }
        guard let object = json.objectValue else {
            throw ExpressionError(path: path, message: "expected an object, found \(json.typeName)")
        }
        if object.isEmpty { return .empty }
        guard let type = object["type"]?.stringValue else {
            throw ExpressionError(path: "\(path).type", message: "expected the node's type")
        }
        func string(_ key: String) throws(ExpressionError) -> String {
            guard let value = object[key]?.stringValue else {
                throw ExpressionError(path: "\(path).\(key)", message: "expected a string")
            }
            return value
        }
        func child(_ key: String) throws(ExpressionError) -> ICONExpression {
            guard let value = object[key] else {
                throw ExpressionError(path: "\(path).\(key)", message: "expected an expression")
            }
            return try decode(value, path: "\(path).\(key)", depth: depth + 1)
        }
        func list(_ key: String) throws(ExpressionError) -> [ICONExpression] {
            guard let items = object[key]?.arrayValue else {
                throw ExpressionError(path: "\(path).\(key)", message: "expected an array")
            }
            var out: [ICONExpression] = []
            for (index, item) in items.enumerated() {
                out.append(try decode(item, path: "\(path).\(key)[\(index)]", depth: depth + 1))
            }
            return out
        }
        switch type {
        case "binary": return .binary(op: try string("op"), left: try child("left"), right: try child("right"))
        case "unary":
            return .unary(op: try string("op"), operand: try child(object["expr"] != nil ? "expr" : "operand"))
        case "function": return .function(name: try string("name"), arguments: try list("args"))
        case "variable": return .variable(try string("name"))
        case "literal": return .literal(object["value"] ?? .null)
        case "regexp": return .regexp(try string("regexp"))
        case "array": return .array(try list("elements"))
        default: throw ExpressionError(path: "\(path).type", message: "unknown expression type \"\(type)\"")
        }
    }
}

/// An expression that could not be read.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
