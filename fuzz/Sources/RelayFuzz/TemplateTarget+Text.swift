import RelayCore

/// Text templates (`{{#each …}}…{{/each}}`), tried on every string of the input, with a block tag or without.
/// Invariants:
/// - reading and rendering never trap or hang, however deep the blocks (past the limits, an error); every error
///   says where (a line) or names the limit;
/// - every listed reference starts at one of Relay's roots; the output is at most `TextTemplate.longestOutput`;
/// - a string with a block tag renders through `Template.render` as `TextTemplate` renders it, or both fail alike;
/// - a string without one that value templates render to text (it is not one lone reference) renders the same;
/// - for each listed reference R, `{{#if R}}` and `{{#unless R}}` take opposite parts, the `if` part exactly when
///   the value is truthy (it exists and is not false, null, 0, "" or []), and `{{#each R}}` renders its body once
///   per item of a non-empty array or object, its `else` part otherwise.
extension TemplateTarget {
    static func checkText(_ text: String, scope: Template.Scope) {
        let isBlock = TextTemplate.isBlockTemplate(text)
        let template: TextTemplate
        do throws(TemplateError) {
            template = try TextTemplate(text)
        } catch {
            checkSaysWhere(error, "reading")
            if isBlock {
                let through = Result { () throws(TemplateError) in try Template.render(.string(text), scope: scope) }
                fuzzCheck(through == .failure(error), "Template.render disagrees on an unreadable text: \(through)")
            }
            return
        }
        for path in template.references {
            fuzzCheck(rootsAllowed(path), "text template reference \(path) starts elsewhere")
        }
        let rendered = Result { () throws(TemplateError) in try template.render(scope: scope) }
        switch rendered {
        case .success(let output):
            fuzzCheck(output.utf8.count <= TextTemplate.longestOutput, "rendered \(output.utf8.count) bytes")
        case .failure(let error):
            checkSaysWhere(error, "rendering")
        }
        if isBlock {
            let through = Result { () throws(TemplateError) in try Template.render(.string(text), scope: scope) }
            fuzzCheck(through == rendered.map(JSONValue.string), "Template.render gave \(through), not \(rendered)")
        } else if (try? Template.singleReference(text)) == nil,
            case .string(let value)? = try? Template.render(.string(text), scope: scope)
        {
            fuzzCheck(rendered == .success(value), "value template gave \(value), text template \(rendered)")
        }
        for path in template.references.prefix(8) { checkBlocks(over: path, scope: scope) }
    }

    static func checkSaysWhere(_ error: TemplateError, _ doing: String) {
        fuzzCheck(
            error.message.contains("line ") || error.message.contains("limit"),
            "\(doing) failed without saying where: \(error.message)")
    }

    static func checkBlocks(over path: [String], scope: Template.Scope) {
        let reference = Template.text(of: path)
        let value = try? Template.resolve(path, in: scope.json)
        let truthy: Bool
        switch value {
        case nil, .null?, .bool(false)?, .string("")?, .array([])?: truthy = false
        case .int(let number)?: truthy = number != 0
        case .double(let number)?: truthy = number != 0 && !number.isNaN
        default: truthy = true
        }
        let tests = "{{#if \(reference)}}1{{else}}0{{/if}}{{#unless \(reference)}}1{{else}}0{{/unless}}"
        let answer = try? TextTemplate(tests).render(scope: scope)
        fuzzCheck(answer == (truthy ? "10" : "01"), "\(tests) rendered \(answer ?? "an error") for \(value as Any)")

        let each = "{{#each \(reference)}}x{{else}}y{{/each}}"
        let count: Int? =
            switch value {
            case .array(let items)? where !items.isEmpty: items.count
            case .object(let object)? where !object.isEmpty: object.count
            default: nil
            }
        let expected = count.map { String(repeating: "x", count: $0) } ?? "y"
        let got = try? TextTemplate(each).render(scope: scope)
        fuzzCheck(got == expected, "\(each) rendered \(got ?? "an error"), expected \(expected)")
    }
}
