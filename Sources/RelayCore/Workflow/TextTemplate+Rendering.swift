extension TextTemplate {
    /// Renders a tree into text, one call per block level (the parser bounds the levels), counting bytes written
    /// and steps taken against `longestOutput` and `mostRenderSteps`.
    struct Renderer {
        /// The scope's JSON: `trigger`, `steps`, `vars`, and `item`, `index`, `run` when set.
        let root: JSONValue
        /// The `#each` items being rendered, the innermost last.
        var frames: [Frame] = []
        var output = ""
        var outputBytes = 0
        var steps = 0

        struct Frame {
            var this: JSONValue
            var index: Int
            /// The key of an object's value; nil for a list's item.
            var key: String?
            var count: Int
            var tag: Tag

            /// `item 2 of {{#each steps.x.output.hosts}} at line 3, column 1`
            var description: String {
                guard let key else { return "item \(index) of \(tag.place)" }
                return "the value of \(JSONWriter.compact.string(.string(key))) in \(tag.place)"
            }
        }

        init(root: JSONValue) { self.root = root }

        mutating func render(_ nodes: [Node]) throws(TemplateError) {
            for node in nodes {
                try step()
                switch node {
                case .text(let text):
                    try write(text, at: nil)
                case .value(let reference, let tag):
                    let value = try value(of: reference, tag: tag)
                    try write(value.stringValue ?? JSONWriter.compact.string(value), at: tag)
                case .each(let reference, let tag, let body, let otherwise):
                    switch lookup(reference) {
                    case .array(let items)? where !items.isEmpty:
                        for (index, item) in items.enumerated() {
                            try step()
                            frames.append(Frame(this: item, index: index, key: nil, count: items.count, tag: tag))
                            try render(body)
                            frames.removeLast()
                        }
                    case .object(let object)? where !object.isEmpty:
                        for (index, element) in object.enumerated() {
                            try step()
                            frames.append(
                                Frame(
                                    this: element.value, index: index, key: element.key, count: object.count, tag: tag))
                            try render(body)
                            frames.removeLast()
                        }
                    default:
                        try render(otherwise)
                    }
                case .conditional(let clauses, let otherwise):
                    let chosen = clauses.first { holds($0.test) }
                    try render(chosen?.body ?? otherwise)
                }
            }
        }

        // MARK: Values

        /// The value `reference` leads to, or nil when there is none.
        func lookup(_ reference: Reference) -> JSONValue? {
            switch reference.base {
            case .scope:
                return Self.walk(reference.path, from: root)
            case .this(let up):
                let position = frames.count - 1 - up
                guard frames.indices.contains(position) else { return nil }
                return Self.walk(reference.path, from: frames[position].this)
            case .data(let variable):
                guard let frame = frames.last else { return nil }
                switch variable {
                case .index: return .int(frame.index)
                case .key: return frame.key.map(JSONValue.string) ?? .int(frame.index)
                case .first: return .bool(frame.index == 0)
                case .last: return .bool(frame.index == frame.count - 1)
                }
            }
        }

        static func walk(_ path: [String], from start: JSONValue) -> JSONValue? {
            var node = start
            for part in path {
                switch node {
                case .object(let object):
                    guard let next = object[part] else { return nil }
                    node = next
                case .array(let items):
                    guard let index = Int(part), items.indices.contains(index) else { return nil }
                    node = items[index]
                default:
                    return nil
                }
            }
            return node
        }

        /// The value of a `{{ }}` tag, or an error naming what is missing, as value templates name it.
        func value(of reference: Reference, tag: Tag) throws(TemplateError) -> JSONValue {
            if let value = lookup(reference) { return value }
            var problem = "\(reference.written) does not exist"
            switch reference.base {
            case .scope:
                do throws(TemplateError) {
                    _ = try Template.resolve(reference.path, in: root)
                } catch {
                    problem = error.message
                }
            case .this(let up):
                let position = frames.count - 1 - up
                if frames.indices.contains(position) {
                    let frame = frames[position]
                    do throws(TemplateError) {
                        _ = try Template.resolve(["this"] + reference.path, in: .object(["this": frame.this]))
                    } catch {
                        problem = error.message
                    }
                    problem += " (this is \(frame.description))"
                }
            case .data:
                break
            }
            throw TemplateError(message: "\(tag.place): \(problem)")
        }

        func value(of operand: Operand) -> JSONValue? {
            switch operand {
            case .literal(let value): value
            case .reference(let reference): lookup(reference)
            }
        }

        func holds(_ test: Test) -> Bool {
            switch test {
            case .truthy(let operand): return TextTemplate.isTruthy(value(of: operand))
            case .falsy(let operand): return !TextTemplate.isTruthy(value(of: operand))
            case .equal(let left, let right):
                guard let left = value(of: left), let right = value(of: right) else { return false }
                return left.numericallyEquals(right)
            }
        }

        // MARK: Limits

        mutating func write(_ text: String, at tag: Tag?) throws(TemplateError) {
            let count = text.utf8.count
            guard count <= TextTemplate.longestOutput - outputBytes else {
                throw TemplateError(
                    message: "the rendered text passes \(TextTemplate.longestOutput) bytes (1 MiB), the limit of a "
                        + "text template, \(place(of: tag))")
            }
            output += text
            outputBytes += count
        }

        mutating func step() throws(TemplateError) {
            steps += 1
            guard steps <= TextTemplate.mostRenderSteps else {
                throw TemplateError(
                    message: "rendering takes more than \(TextTemplate.mostRenderSteps) steps (text runs, tags and "
                        + "#each items), the limit of a text template, \(place(of: nil))")
            }
        }

        /// `writing {{ name }} at line 3, column 5`, `in item 2 of {{#each …}} at line 1, column 1`.
        func place(of tag: Tag?) -> String {
            if let tag { return "writing \(tag.place)" }
            if let frame = frames.last { return "in \(frame.description)" }
            return "at the top level"
        }
    }
}
