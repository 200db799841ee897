/// Swift identifiers for spec names (`api_key` → `apiKey`, `$type` → `type`, `class` → `` `class` ``).
enum SwiftNames {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
        "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows",
        "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue", "default", "defer",
        "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "throw", "switch", "where",
        "while", "Any", "as", "false", "is", "nil", "self", "Self", "super", "throws", "true", "try", "await",
        "async", "some", "any", "consume", "borrowing", "consuming",
    ]

    /// Type names Relay's generated code uses or that clash with the standard library.
    static let reservedTypes: Set<String> = [
        "Input", "Output", "Connection", "State", "Event", "String", "Int", "Double", "Bool", "Array", "Dictionary",
        "Data", "Date", "Error", "Result", "Plugin", "Type", "Protocol", "Optional", "JSONValue", "File", "Task",
        "Set", "URL", "Character", "Never", "Void", "Any", "Self",
    ]

    /// The words of a name: split on anything not a letter or digit, and on lower-to-upper case changes.
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousLower = false
        for character in name {
            if character.isLetter || character.isNumber, character.isASCII {
                if character.isUppercase && previousLower && !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(character)
                previousLower = character.isLowercase || character.isNumber
            } else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousLower = false
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// `lowerCamelCase`, escaped when it is a keyword, prefixed when it starts with a digit or is empty.
    static func property(_ name: String) -> String {
        let parts = words(name)
        guard let first = parts.first else { return "value" }
        var identifier = first.prefix(1).lowercased() + first.dropFirst()
        for part in parts.dropFirst() { identifier += part.prefix(1).uppercased() + part.dropFirst() }
        if identifier.first!.isNumber { identifier = "_" + identifier }
        return keywords.contains(identifier) ? "`\(identifier)`" : identifier
    }

    /// `UpperCamelCase` for a type.
    static func type(_ name: String) -> String {
        var identifier = words(name).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        if identifier.isEmpty { identifier = "Value" }
        if identifier.first!.isNumber { identifier = "T" + identifier }
        if reservedTypes.contains(identifier) || keywords.contains(identifier) { identifier += "Type" }
        return identifier
    }

    /// A Swift string literal for any text.
    static func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// The shortest raw-string delimiter that can hold `text` as a multi-line literal.
    static func rawDelimiter(for text: String) -> String {
        var hashes = "#"
        while text.contains("\"\"\"" + hashes) || text.contains("\"" + hashes) { hashes += "#" }
        return hashes
    }
}
