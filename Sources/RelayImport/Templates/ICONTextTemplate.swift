import RelayCore

/// How a template's references become Relay's: `resolve` for references from the workflow's root (a step's output,
/// the trigger, a variable), and `loopOutput` for a node inside the elements of a loop's `$outputs`
/// (`{{#each [loop].[$outputs]}}{{[body step].[md5]}}{{/each}}`, where the element is keyed by the body's nodes).
public struct TemplateResolver {
    /// The file's node ids.
    public var nodes: Set<String>
    public var resolve: (ICONReference) -> Result<String, TranslationGap>
    /// The path in an element of `loop`'s `$outputs` of `node`'s output at `path` (its step id first), or why it has
    /// none; nil when `node` is not in the loop's body.
    public var loopOutput: (_ node: String, _ path: [String], _ loop: String) -> Result<[String], TranslationGap>?
    /// Whether `loop` may leave early (its body has a `break`): Relay's loop step then outputs null for each item
    /// not run, where InsightConnect's `$outputs` holds only the iterations that ran.
    public var leavesEarly: (_ loop: String) -> Bool

    public init(
        nodes: Set<String>, resolve: @escaping (ICONReference) -> Result<String, TranslationGap>,
        loopOutput: @escaping (String, [String], String) -> Result<[String], TranslationGap>? = { _, _, _ in nil },
        leavesEarly: @escaping (String) -> Bool = { _ in false }
    ) {
        self.nodes = nodes
        self.resolve = resolve
        self.loopOutput = loopOutput
        self.leavesEarly = leavesEarly
    }
}

/// InsightConnect's Handlebars blocks (`{{#each}}`, `{{#if}}`, `{{#unless}}`, `{{#equal}}`, `{{else}}`,
/// `{{else if …}}`, `this`,
/// `.`, `@index`, `../x`, fields of the current element) translated into Relay's text templates, whose references
/// are Relay's (`{{#each steps.lookup.output.hosts}}- {{ this.name }}{{/each}}`). One pass over the tags with a
/// stack of the open blocks; a tag that cannot be translated is a reason, and the string is not translated.
struct ICONTextTemplate {
    let resolver: TemplateResolver

    /// An open block: its helper, and for `#each` what its elements are.
    private struct Block {
        var helper: String
        var isEach: Bool
        /// The loop whose `$outputs` an `#each` goes over (its elements are keyed by the body's nodes).
        var loop: String?
        /// An `#each` over the `$outputs` of a loop that may leave early: its body is inside `{{#if this}}`, so that
        /// the items not run (null in Relay, absent in InsightConnect) write nothing.
        var skipsNull = false
        var hasElse = false
        /// Opened by `{{else if …}}`: closed by the `{{/if}}` of the block it continues.
        var chained = false
    }

    private var blocks: [Block] = []
    private(set) var gaps: [TranslationGap] = []

    init(resolver: TemplateResolver) { self.resolver = resolver }

    /// The Relay text of `pieces` (see `ICONTemplate.pieces`), or the reasons it has none.
    static func translate(_ pieces: [ICONTemplate.Piece], text: String, resolver: TemplateResolver)
        -> Result<String, TranslationGaps>
    {
        var template = ICONTextTemplate(resolver: resolver)
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let literal):
                if literal.contains("}}") {
                    template.gaps.append(
                        TranslationGap("a \"}}\" without an opening \"{{\" in \(ICONTemplate.quoted(text))"))
                }
                out += literal
            case .token(let token): out += template.tag(token)
            }
        }
        if let open = template.blocks.last {
            template.gaps.append(
                TranslationGap("{{#\(open.helper)}} is not closed in \(ICONTemplate.quoted(text))"))
        }
        guard template.gaps.isEmpty else { return .failure(TranslationGaps(template.gaps)) }
        // What Relay would refuse (its limits, a form it reads otherwise) is a gap here, not a file it refuses.
        if TextTemplate.isBlockTemplate(out) {
            do {
                _ = try TextTemplate(out)
            } catch {
                return .failure(
                    TranslationGaps([
                        TranslationGap("the translated text template is one Relay refuses: \(error.message)")
                    ]))
            }
        }
        return .success(out)
    }

    /// The Relay text of one `{{ … }}` (its inside, trimmed).
    private mutating func tag(_ token: String) -> String {
        if token.hasPrefix("~") || token.hasSuffix("~") {
            return fail("the Handlebars whitespace control {{\(token)}} has no Relay equivalent yet")
        }
        if token.hasPrefix("#") { return open(token.dropFirst().trimmingCharacters(in: .whitespaces)) }
        if token.hasPrefix("/") { return close(token.dropFirst().trimmingCharacters(in: .whitespaces)) }
        if token == "else" || token.hasPrefix("else ") {
            return otherwise(token.dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        if token.hasPrefix("^") || token.hasPrefix("!") || token.hasPrefix(">") {
            return fail(
                "the Handlebars form {{\(token)}} (inverse sections, comments, partials) has no Relay equivalent yet")
        }
        // `{{{x}}}` arrives as the token `{x` (the third brace stays in the text after it): Relay writes the same.
        let inner = token.hasPrefix("{") ? String(token.dropFirst()).trimmingCharacters(in: .whitespaces) : token
        switch expression(inner) {
        case .success(let reference): return "{{ \(reference) }}"
        case .failure(let gap): return fail(gap.reason)
        }
    }

    private mutating func fail(_ reason: String) -> String {
        gaps.append(TranslationGap(reason))
        return ""
    }

    private mutating func open(_ inside: String) -> String {
        let helper = inside.prefix { !$0.isWhitespace }
        let argument = inside.dropFirst(helper.count).trimmingCharacters(in: .whitespaces)
        guard ["each", "if", "unless", "equal"].contains(helper) else {
            // Still opened, so that its `{{/…}}` closes it and the reasons stay about this helper.
            blocks.append(Block(helper: String(helper), isEach: false))
            return fail(
                "the Handlebars helper {{#\(helper)}} has no Relay equivalent yet (Relay's text templates have #each, "
                    + "#if, #unless and #equal)")
        }
        let translated =
            helper == "equal" ? comparison(argument) : blockArgument(argument, helper: String(helper))
        var block = Block(helper: String(helper), isEach: helper == "each")
        if helper == "each", case .node(let loop, let path) = reference(argument), path == ["$outputs"] {
            block.loop = loop
            block.skipsNull = resolver.leavesEarly(loop)
        }
        blocks.append(block)
        return translated.map { "{{#\(helper) \($0)}}" + (block.skipsNull ? "{{#if this}}" : "") } ?? ""
    }

    private mutating func blockArgument(_ argument: String, helper: String) -> String? {
        guard !argument.isEmpty, !argument.contains(" as |") else {
            _ = fail("{{#\(helper) \(argument)}}: Relay's #\(helper) takes one reference")
            return nil
        }
        switch expression(argument) {
        case .success(let reference): return reference
        case .failure(let gap):
            _ = fail(gap.reason)
            return nil
        }
    }

    /// The two operands of `#equal` (InsightConnect's helper, Relay's too): references or literals (`"x"`, `'x'`,
    /// numbers, `true`, `false`, `null`), written as Relay reads them.
    private mutating func comparison(_ argument: String) -> String? {
        var operands: [String] = []
        var rest = Substring(argument)
        while let first = rest.first {
            if first.isWhitespace {
                rest = rest.dropFirst()
                continue
            }
            if first == "\"" || first == "'" {
                guard let close = rest.dropFirst().firstIndex(of: first) else {
                    _ = fail("{{#equal \(argument)}}: an unclosed string")
                    return nil
                }
                let text = String(rest[rest.index(after: rest.startIndex)..<close])
                operands.append(JSONWriter.compact.string(.string(text)))
                rest = rest[rest.index(after: close)...]
                continue
            }
            let word = String(rest.prefix { !$0.isWhitespace })
            rest = rest.dropFirst(word.count)
            if ["true", "false", "null"].contains(word) || Double(word) != nil {
                operands.append(word)
                continue
            }
            switch expression(word) {
            case .success(let reference): operands.append(reference)
            case .failure(let gap):
                _ = fail(gap.reason)
                return nil
            }
        }
        guard operands.count == 2 else {
            _ = fail("{{#equal \(argument)}}: #equal compares two values, found \(operands.count)")
            return nil
        }
        return operands.joined(separator: " ")
    }

    /// `{{else}}`, or `{{else if x}}`: Handlebars' chain, written as an `#if` inside the `else` (closed with the
    /// block it continues).
    private mutating func otherwise(_ argument: String) -> String {
        guard var block = blocks.popLast() else { return fail("{{else}} outside a block") }
        guard !block.hasElse else {
            blocks.append(block)
            return fail("a second {{else}} in one {{#\(block.helper)}}")
        }
        block.hasElse = true
        blocks.append(block)
        // The `{{#if this}}` around the body of an `#each` that skips nulls ends where the body does.
        let endBody = block.skipsNull ? "{{/if}}" : ""
        guard !argument.isEmpty else { return endBody + "{{else}}" }
        let helper = argument.prefix { !$0.isWhitespace }
        guard ["if", "unless", "equal"].contains(helper) else {
            return fail("{{else \(argument)}}: only {{else if|unless|equal …}} chain in Relay")
        }
        let rest = argument.dropFirst(helper.count).trimmingCharacters(in: .whitespaces)
        let condition = helper == "equal" ? comparison(rest) : blockArgument(rest, helper: String(helper))
        blocks.append(Block(helper: String(helper), isEach: false, chained: true))
        return condition.map { endBody + "{{else}}{{#\(helper) \($0)}}" } ?? ""
    }

    private mutating func close(_ helper: String) -> String {
        var out = ""
        while let last = blocks.last, last.chained {
            blocks.removeLast()
            out += "{{/\(last.helper)}}"
        }
        guard let block = blocks.popLast() else { return fail("{{/\(helper)}} closes no block") }
        guard block.helper == helper else { return fail("{{/\(helper)}} closes {{#\(block.helper)}}") }
        return out + (block.skipsNull && !block.hasElse ? "{{/if}}" : "") + "{{/\(helper)}}"
    }

    /// The reference a mustache or a block's argument reads: relative to the current element inside `#each`
    /// (`this`, `.`, `this.[a]`, `@index`, `../x`, a bare field), else from the root.
    private func expression(_ token: String) -> Result<String, TranslationGap> {
        let depth = blocks.filter(\.isEach).count
        if token.hasPrefix("@") {
            guard ["@index", "@key", "@first", "@last"].contains(token) else {
                return .failure(
                    TranslationGap("{{\(token)}} is not a value Relay's #each has (@index, @key, @first, @last)"))
            }
            guard depth > 0 else { return .failure(TranslationGap("{{\(token)}} outside an {{#each}} block")) }
            return .success(token)
        }
        var rest = Substring(token)
        var up = 0
        while rest.hasPrefix("../") {
            up += 1
            rest = rest.dropFirst(3)
        }
        if up > 0 {
            if up == depth { return absolute(String(rest)) }
            guard up < depth, up == 1 else {
                return .failure(TranslationGap("{{\(token)}} reads \(up) blocks up; Relay's templates read one (../x)"))
            }
        }
        let prefix = String(repeating: "../", count: up)
        if rest == "this" || rest == "." {
            guard depth > 0 else { return .failure(TranslationGap("{{\(token)}} outside an {{#each}} block")) }
            return .success(up > 0 ? prefix + "this" : "this")
        }
        guard let segments = ICONReference.segments(of: String(rest)) else {
            return .failure(TranslationGap("\"\(token)\" is not a reference of the form [step].[field]"))
        }
        let head = segments[0]
        let relative: [String]
        if head == "this" {
            relative = Array(segments.dropFirst())
        } else if resolver.nodes.contains(head) || head.hasPrefix("$") {
            // A body node read inside `{{#each [loop].[$outputs]}}` is a key of the current element.
            if up == 0, let loop = blocks.last(where: \.isEach)?.loop,
                let inElement = resolver.loopOutput(head, Array(segments.dropFirst()), loop)
            {
                return inElement.map { RelayReference(root: "this", segments: $0).description }
            }
            return absolute(String(rest))
        } else {
            relative = segments
        }
        guard depth > 0 else { return absolute(String(rest)) }
        guard up > 0 else { return .success(RelayReference(root: "this", segments: relative).description) }
        // `../x`: the enclosing block's element's field.
        guard let first = relative.first else { return .success(prefix + "this") }
        guard RelayReference.isPlainKey(first) else {
            return .failure(TranslationGap("{{\(token)}}: Relay's ../ takes a plain field name"))
        }
        return .success(prefix + RelayReference(root: first, segments: Array(relative.dropFirst())).description)
    }

    /// A reference from the workflow's root.
    private func absolute(_ token: String) -> Result<String, TranslationGap> {
        resolver.resolve(reference(token))
    }

    private func reference(_ token: String) -> ICONReference {
        ICONReference.parse(token: token, nodes: resolver.nodes)
    }
}
