/// Text with Handlebars blocks over Relay's references, as InsightConnect writes artifacts and chat messages:
///
/// ```
/// # Alert {{ trigger.json.id }}
/// {{#each steps.lookup.output.hosts}}
/// - {{ name }} ({{ @index }}):{{#each ips}} {{ this }}{{#if @last}} on {{ ../name }}{{/if}}{{/each}}
/// {{else}}
/// No hosts.
/// {{/each}}
/// ```
///
/// - `{{ path }}` and `{{{ path }}}`: the value, a string as it is, anything else as compact JSON (nothing is
///   escaped). A reference that does not exist is an error naming it.
/// - `{{#each path}}…{{else}}…{{/each}}`: the body once per item of an array (`this` the item, `@index`,
///   `@first`, `@last`; `@key` is the index) or per key of an object (`this` the value, `@key`, `@index`,
///   `@first`, `@last`); the `else` part when the value is missing, empty or neither an array nor an object.
/// - `{{#if x}}…{{else if y}}…{{else}}…{{/if}}`, `{{#unless x}}…{{/unless}}`, `{{#equal a b}}…{{/equal}}` (an
///   InsightConnect helper: `a` and `b` references or literals, equal as `==` in conditions): `else` parts may
///   chain any of `if`, `unless` and `equal`. A missing reference is false (Handlebars' truthiness: false, null,
///   missing, `""`, `0` and `[]` are false; `{}` is true).
/// - Inside `#each`, a path whose first name is not one of Relay's roots (`trigger`, `steps`, `vars`, `item`,
///   `index`, `run`) is read from `this` (`{{ name }}` is `{{ this.name }}`); `{{ . }}` is `this`; `../` climbs
///   to the enclosing `#each`'s `this` (`#if` and friends do not change `this`).
/// - A line holding only block tags and white space leaves nothing behind (Handlebars' "standalone" rule), so
///   a block written on lines of its own does not add blank lines.
///
/// The text is read once, into a tree, by a loop with a stack of the blocks open (no recursion on the text);
/// rendering recurses once per block level, at most `deepestNesting`. Every limit is an error naming it.
public struct TextTemplate: Sendable, Equatable {
    /// The longest template text, in UTF-8 bytes (1 MiB).
    public static let longestText = 1 << 20
    /// The most blocks open inside one another.
    public static let deepestNesting = 64
    /// The longest rendered text, in UTF-8 bytes (1 MiB), checked as it grows.
    public static let longestOutput = 1 << 20
    /// The most steps one rendering takes: each text run, tag and `#each` item rendered counts one, so that
    /// blocks producing nothing (an `#each` inside an `#each` over large lists) still end soon.
    public static let mostRenderSteps = 1_000_000

    let nodes: [Node]
    /// Every absolute reference (its root is `trigger`, `steps`, `vars`, `item`, `index` or `run`), in the order
    /// written, for checking workflows before they run; references read from `this` are not listed.
    public private(set) var references: [[String]]

    /// Reads `text`; an error names what was expected, what was found and where (line and column).
    public init(_ text: String) throws(TemplateError) {
        var parser = Parser(text)
        nodes = try parser.parse()
        references = parser.references
    }

    /// Whether `text` holds a block tag (`{{#`), which makes it a text template rather than a value template.
    public static func isBlockTemplate(_ text: String) -> Bool {
        var braces = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "#"), braces >= 2 { return true }
            braces = byte == UInt8(ascii: "{") ? braces + 1 : 0
        }
        return false
    }

    /// The text for `scope`. A missing reference in `{{ }}` is an error naming it and where it is written.
    public func render(scope: Template.Scope) throws(TemplateError) -> String {
        var renderer = Renderer(root: scope.json)
        try renderer.render(nodes)
        return renderer.output
    }
}

extension TextTemplate {
    /// A tag as written (shortened) and where it starts, for messages.
    struct Tag: Sendable, Equatable {
        var text: String
        var line: Int
        var column: Int

        /// `{{ name }} at line 3, column 5`
        var place: String { "\(text) at line \(line), column \(column)" }
        var position: String { "line \(line), column \(column)" }
    }

    enum Node: Sendable, Equatable {
        case text(String)
        /// `{{ path }}`
        case value(Reference, Tag)
        /// `{{#each path}}body{{else}}otherwise{{/each}}`
        case each(Reference, Tag, body: [Node], otherwise: [Node])
        /// `{{#if}}`, `{{#unless}}`, `{{#equal}}` and their `{{else if …}}` chain: the body of the first clause
        /// whose test holds, else `otherwise`.
        case conditional([Clause], otherwise: [Node])
    }

    struct Clause: Sendable, Equatable {
        var test: Test
        var body: [Node]
    }

    enum Test: Sendable, Equatable {
        case truthy(Operand)
        case falsy(Operand)
        case equal(Operand, Operand)
    }

    enum Operand: Sendable, Equatable {
        case reference(Reference)
        case literal(JSONValue)
    }

    struct Reference: Sendable, Equatable {
        enum Base: Sendable, Equatable {
            /// A path from one of Relay's roots.
            case scope
            /// A path from `this` of the `#each` `up` levels out (0: the innermost).
            case this(up: Int)
            /// One of the innermost `#each`'s variables.
            case data(DataVariable)
        }

        var base: Base
        var path: [String]
        /// As written, for messages.
        var written: String
    }

    enum DataVariable: String, Sendable, CaseIterable {
        case index = "@index"
        case key = "@key"
        case first = "@first"
        case last = "@last"
    }

    /// Handlebars' truthiness: false, null, missing, `""`, `0` (and NaN) and `[]` are false; `{}` is true.
    static func isTruthy(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: false
        case .bool(let flag)?: flag
        case .int(let number)?: number != 0
        case .bigInt?: true
        case .double(let number)?: number != 0 && !number.isNaN
        case .string(let text)?: !text.isEmpty
        case .array(let items)?: !items.isEmpty
        case .object?: true
        }
    }
}
