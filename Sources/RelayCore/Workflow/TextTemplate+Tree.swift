extension TextTemplate.Parser {
    /// The tree of the runs and tags scanned, built by one loop with a stack of the blocks open.
    mutating func build() throws(TemplateError) -> [TextTemplate.Node] {
        var builder = TreeBuilder()
        for (position, scanned) in tags.enumerated() {
            builder.appendText(bytes[runs[position]])
            try builder.add(scanned.kind, tag: scanned.tag)
        }
        builder.appendText(bytes[runs[tags.count]])
        references = builder.references
        return try builder.finish()
    }
}

/// Builds a text template's tree from its tags in order: checks that blocks close in order and nest at most
/// `TextTemplate.deepestNesting` deep, and that a reference read from `this` (or `@index`, `../`) has an `#each`
/// around it.
struct TreeBuilder {
    typealias Node = TextTemplate.Node
    typealias Reference = TextTemplate.Reference

    /// A block open: the parts read so far, the last being read. `#each`: its body, then maybe its `else`; the
    /// others: one part per test (`#if x`, `else if y`), then maybe an `else` (no test).
    struct OpenBlock {
        var keyword: TextTemplate.BlockKeyword
        var opening: TextTemplate.Tag
        var each: Reference?
        var parts: [(test: TextTemplate.Test?, nodes: [Node])]
        var hasElse = false
    }

    var top: [Node] = []
    var stack: [OpenBlock] = []
    /// How many `#each` bodies enclose the tag being read (the `else` part of an `#each` is not its body).
    var eachDepth = 0
    var references: [[String]] = []

    mutating func append(_ node: Node) {
        if stack.isEmpty {
            top.append(node)
        } else {
            stack[stack.count - 1].parts[stack[stack.count - 1].parts.count - 1].nodes.append(node)
        }
    }

    mutating func appendText(_ bytes: ArraySlice<UInt8>) {
        if !bytes.isEmpty { append(.text(String(decoding: bytes, as: UTF8.self))) }
    }

    mutating func add(_ kind: TextTemplate.TagKind, tag: TextTemplate.Tag) throws(TemplateError) {
        switch kind {
        case .value(let reference):
            try check(reference, tag: tag)
            append(.value(reference, tag))
        case .each(let reference):
            try check(reference, tag: tag)
            try open(OpenBlock(keyword: .each, opening: tag, each: reference, parts: [(nil, [])]))
            eachDepth += 1
        case .test(let keyword, let test):
            try check(test, tag: tag)
            try open(OpenBlock(keyword: keyword, opening: tag, parts: [(test, [])]))
        case .otherwise(let test):
            guard var block = stack.popLast() else {
                throw TemplateError(message: "\(tag.place) is outside any block")
            }
            guard !block.hasElse else {
                throw TemplateError(
                    message: "\(tag.place): {{#\(block.keyword)}} opened at \(block.opening.position) already has "
                        + "its {{else}}")
            }
            if block.keyword == .each {
                guard test == nil else {
                    throw TemplateError(
                        message: "\(tag.place): {{#each}} opened at \(block.opening.position) takes a plain "
                            + "{{else}}; {{else if …}} continues {{#if}}, {{#unless}} or {{#equal}}")
                }
                // The else part is rendered where the #each stands, with the enclosing `this`.
                eachDepth -= 1
            }
            if let test { try check(test, tag: tag) } else { block.hasElse = true }
            block.parts.append((test, []))
            stack.append(block)
        case .close(let name):
            guard let block = stack.popLast() else {
                throw TemplateError(message: "\(tag.place) closes nothing: no block is open")
            }
            guard name == block.keyword.rawValue else {
                throw TemplateError(
                    message: "\(tag.place) closes {{#\(block.keyword)}} opened at \(block.opening.position); "
                        + "expected {{/\(block.keyword)}}")
            }
            append(node(of: block))
        }
    }

    mutating func open(_ block: OpenBlock) throws(TemplateError) {
        guard stack.count < TextTemplate.deepestNesting else {
            throw TemplateError(
                message: "\(block.opening.place): blocks nest more than \(TextTemplate.deepestNesting) deep, the "
                    + "limit of a text template")
        }
        stack.append(block)
    }

    mutating func node(of block: OpenBlock) -> Node {
        if let each = block.each {
            if !block.hasElse { eachDepth -= 1 }
            return .each(
                each, block.opening, body: block.parts[0].nodes, otherwise: block.parts.dropFirst().first?.nodes ?? [])
        }
        var clauses: [TextTemplate.Clause] = []
        var otherwise: [Node] = []
        for part in block.parts {
            if let test = part.test {
                clauses.append(TextTemplate.Clause(test: test, body: part.nodes))
            } else {
                otherwise = part.nodes
            }
        }
        return .conditional(clauses, otherwise: otherwise)
    }

    func finish() throws(TemplateError) -> [Node] {
        if let block = stack.last {
            throw TemplateError(
                message: "{{#\(block.keyword)}} opened at \(block.opening.position) is not closed: expected "
                    + "{{/\(block.keyword)}} before the end of the text")
        }
        return top
    }

    mutating func check(_ test: TextTemplate.Test, tag: TextTemplate.Tag) throws(TemplateError) {
        switch test {
        case .truthy(let operand), .falsy(let operand): try check(operand, tag: tag)
        case .equal(let left, let right):
            try check(left, tag: tag)
            try check(right, tag: tag)
        }
    }

    mutating func check(_ operand: TextTemplate.Operand, tag: TextTemplate.Tag) throws(TemplateError) {
        if case .reference(let reference) = operand { try check(reference, tag: tag) }
    }

    /// Lists a reference from Relay's roots; refuses one read from `this` with too few `#each` around it.
    mutating func check(_ reference: Reference, tag: TextTemplate.Tag) throws(TemplateError) {
        switch reference.base {
        case .scope:
            references.append(reference.path)
        case .data(let variable):
            guard eachDepth > 0 else {
                throw TemplateError(message: "\(tag.place): \(variable.rawValue) exists only inside {{#each}}")
            }
        case .this(let up):
            guard up >= eachDepth else { return }
            if up > 0 {
                let levels = up == 1 ? "1 level" : "\(up) levels"
                let enclosing =
                    switch eachDepth {
                    case 0: "no #each encloses"
                    case 1: "only 1 #each encloses"
                    default: "only \(eachDepth) #each enclose"
                    }
                throw TemplateError(
                    message: "\(tag.place): \"\(reference.written)\" reads from the #each \(levels) out, but "
                        + "\(enclosing) it")
            }
            let written = reference.written
            if reference.path.isEmpty || written.hasPrefix("this.") || written.hasPrefix("this[")
                || written.hasPrefix(".")
            {
                throw TemplateError(message: "\(tag.place): \(reference.written) exists only inside {{#each}}")
            }
            throw TemplateError(
                message: "\(tag.place): \"\(reference.written)\" must start with trigger., steps., vars. or run. (or "
                    + "be item or index in a for_each step); inside {{#each}}, it would be read from this")
        }
    }
}
