import Foundation
import OrderedCollections
import RelayCore

/// A pattern match's expressions (`{{action:/!.*/}} {{hash:/.*/}}`: `text` pieces and `variable`s `{ident, regex}`)
/// as one ICU regular expression with a named group per variable, the form of Relay's `match:` step.
///
/// The text pieces are regular expressions too, not literal text: the corpus writes `lookup-vuln\s+`,
/// `<.*> ` (a Slack mention) and `^(?:.*://)?(?:www\.)?` between its variables, which only mean something as
/// regex. InsightConnect's syntax is RE2's; what ICU reads differently is rewritten (`(?P<n>…)`, `\pL`, a `{` that
/// starts no repetition) or refused (`(?U)`, `\C`).
struct ICONPattern: Equatable {
    /// The ICU pattern.
    var pattern: String
    /// Each variable's ident → its group's name (they differ where the ident is not an ICU group name).
    var groups: OrderedDictionary<String, String>

    /// The longest pattern Relay's `match:` takes.
    static let maximumLength = 4_096

    static func build(_ expressions: [JSONValue], ignoreCase: Bool) -> Result<ICONPattern, TranslationGap> {
        var pattern = ""
        var groups: OrderedDictionary<String, String> = [:]
        for (index, expression) in expressions.enumerated() {
            let value = expression["value"]
            switch expression["type"]?.stringValue {
            case "text":
                guard let text = value?.stringValue else {
                    return .failure(TranslationGap("expression \(index + 1) is text without a string"))
                }
                switch icu(text) {
                case .success(let converted): pattern += converted
                case .failure(let gap): return .failure(gap)
                }
            case "variable":
                guard let ident = value?["ident"]?.stringValue, !ident.isEmpty,
                    let regex = value?["regex"]?.stringValue
                else { return .failure(TranslationGap("variable \(index + 1) has no ident or regex")) }
                guard groups[ident] == nil else {
                    return .failure(TranslationGap("the variable \"\(ident)\" is captured twice"))
                }
                let group = groupName(ident, taken: Set(groups.values))
                groups[ident] = group
                switch icu(regex) {
                case .success(let converted): pattern += "(?<\(group)>\(converted))"
                case .failure(let gap): return .failure(TranslationGap("the variable \"\(ident)\": \(gap.reason)"))
                }
            default:
                return .failure(
                    TranslationGap(
                        "expression \(index + 1) is of type \(JSONWriter.compact.string(expression["type"] ?? .null)), "
                            + "neither text nor variable"))
            }
        }
        guard !groups.isEmpty else { return .failure(TranslationGap("it captures no variable")) }
        guard pattern.count <= maximumLength else {
            return .failure(
                TranslationGap("its pattern has \(pattern.count) characters, more than Relay takes (\(maximumLength))"))
        }
        do {
            _ = try NSRegularExpression(pattern: pattern, options: ignoreCase ? [.caseInsensitive] : [])
        } catch {
            return .failure(
                TranslationGap("its pattern \(ICONTemplate.quoted(pattern)) is not one ICU compiles: \(error)"))
        }
        return .success(ICONPattern(pattern: pattern, groups: groups))
    }

    /// An ICU group name for an ident: itself when it is one (ASCII letters and digits, a letter first) and not
    /// `matched` (Relay's own output); else its words in camel case (`search_base` → `searchBase`), made unique.
    static func groupName(_ ident: String, taken: Set<String>) -> String {
        func isGroupName(_ text: String) -> Bool {
            guard let first = text.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else {
                return false
            }
            return text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))
            }
        }
        var base = ident
        if !isGroupName(ident) {
            let words = ident.split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }.map(String.init)
            base = words.enumerated().map {
                $0.offset == 0 ? $0.element : $0.element.prefix(1).uppercased() + $0.element.dropFirst()
            }
            .joined()
            if base.first.map({ !$0.isLetter }) ?? true { base = "group" + base }
        }
        if base == "matched" { base = "matchedGroup" }
        var name = base
        var counter = 2
        while taken.contains(name) {
            name = "\(base)\(counter)"
            counter += 1
        }
        return name
    }

    /// An RE2 regular expression in ICU's syntax: `(?P<n>…)` and `(?<n>…)` become plain groups (only the
    /// variables are outputs), `\pL` is `\p{L}`, a `{` or `}` that is no repetition is escaped (RE2 reads it as a
    /// literal, ICU refuses it); `(?U)` and `\C` have no ICU equivalent.
    static func icu(_ re2: String) -> Result<String, TranslationGap> {
        let characters = Array(re2)
        var out = ""
        var index = 0
        var inClass = false
        func at(_ offset: Int) -> Character? {
            index + offset < characters.count ? characters[index + offset] : nil
        }
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                guard let next = at(1) else { return .failure(TranslationGap("\(re2) ends with a lone backslash")) }
                if next == "C" { return .failure(TranslationGap("\\C (any byte) in \(re2) has no ICU equivalent")) }
                if next == "Q" {
                    // Literal text up to \E, the same in ICU.
                    let rest = String(characters[index...])
                    let end = rest.range(of: "\\E").map { rest.distance(from: rest.startIndex, to: $0.upperBound) }
                    out += rest.prefix(end ?? rest.count)
                    index += end ?? rest.count
                    continue
                }
                if next == "p" || next == "P", let name = at(2), name != "{" {
                    out += "\\\(next){\(name)}"
                    index += 3
                    continue
                }
                out += "\\\(next)"
                index += 2
                continue
            }
            if inClass {
                if character == "[", at(1) == ":", let close = String(characters[index...]).range(of: ":]") {
                    // A POSIX class such as [:alpha:], the same in ICU.
                    let text = String(characters[index...])
                    let length = text.distance(from: text.startIndex, to: close.upperBound)
                    out += text.prefix(length)
                    index += length
                    continue
                }
                if character == "]" { inClass = false }
                // ICU reads `[` in a set as a nested set and `&&` as an intersection; RE2 as literals.
                if character == "[" || character == "&" { out.append("\\") }
                out.append(character)
                index += 1
                continue
            }
            switch character {
            case "[":
                inClass = true
                out.append(character)
                index += 1
                // `[]…]` and `[^]…]`: a `]` first is literal.
                if at(0) == "^" {
                    out.append("^")
                    index += 1
                }
                if at(0) == "]" {
                    out += "\\]"
                    index += 1
                }
            case "(":
                let rest = String(characters[index...])
                if rest.hasPrefix("(?P<")
                    || (rest.hasPrefix("(?<") && !rest.hasPrefix("(?<=") && !rest.hasPrefix("(?<!"))
                {
                    guard let close = rest.firstIndex(of: ">") else {
                        return .failure(TranslationGap("an unclosed group name in \(re2)"))
                    }
                    out.append("(")
                    index += rest.distance(from: rest.startIndex, to: close) + 1
                    continue
                }
                let flags = rest.dropFirst(2).prefix { "imsU-".contains($0) }
                if rest.hasPrefix("(?"), flags.contains("U"),
                    [")", ":"].contains(rest.dropFirst(2 + flags.count).first)
                {
                    return .failure(TranslationGap("the flag U (ungreedy) in \(re2) has no ICU equivalent"))
                }
                out.append(character)
                index += 1
            case "{":
                let rest = String(characters[index...])
                if let repetition = rest.firstMatch(of: /^\{[0-9]+(,[0-9]*)?\}/) {
                    out += repetition.output.0
                    index += repetition.output.0.count
                } else {
                    out += "\\{"
                    index += 1
                }
            case "}":
                out += "\\}"
                index += 1
            default:
                out.append(character)
                index += 1
            }
        }
        return .success(out)
    }
}
