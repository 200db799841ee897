import RelayCore
import Testing

@Suite struct TextTemplateTests {
    let scope = Template.Scope(
        trigger: [
            "json": [
                "id": 7, "note": "urgent", "empty": "", "zero": 0, "none": nil, "nothing": [:], "flag": true,
                "html": "<b>&</b>", "tags": ["a", "b"], "matrix": [[1, 2], [3]], "rows": [["a": 1, "b": "x"]],
                "groups": [["name": "g", "hosts": [["name": "h", "ips": ["10.1.1.1"]]]]],
                "records": [["steps": 3]],
            ]
        ],
        steps: [
            "lookup": [
                "status": "succeeded",
                "output": [
                    "hosts": [["name": "web1", "ips": ["10.0.0.1", "10.0.0.2"]], ["name": "db1", "ips": []]],
                    "scores": ["web1": 80, "db1": 20],
                ],
            ]
        ],
        vars: ["Channel Name": "#soc"])

    func render(_ text: String, in scope: Template.Scope? = nil) throws(TemplateError) -> String {
        try TextTemplate(text).render(scope: scope ?? self.scope)
    }

    @Test func valuesAreWrittenLikeValueTemplatesAndNothingIsEscaped() throws {
        #expect(
            try render(
                "{{ trigger.json.note }} {{{ steps.lookup.output.scores }}} {{trigger.json.none}} "
                    + "{{ trigger.json.html }}"
            ) == #"urgent {"web1":80,"db1":20} null <b>&</b>"#)
    }

    @Test func eachOverAListSeesItsItemAndPosition() throws {
        #expect(
            try render(
                "{{#each steps.lookup.output.hosts}}{{@index}}:{{name}}{{#if @first}}(first){{/if}}"
                    + "{{#if @last}}(last){{/if}};{{/each}}") == "0:web1(first);1:db1(last);")
        #expect(try render("{{#each trigger.json.tags}}{{@key}}={{this}} {{/each}}") == "0=a 1=b ")
        // Handlebars' spacing inside the tag and after the sigil.
        #expect(try render("{{# each trigger.json.tags }}{{ . }}{{/ each }}") == "ab")
    }

    @Test func eachOverAnObjectSeesKeysInOrder() throws {
        #expect(
            try render(
                "{{#each steps.lookup.output.scores}}{{@index}}.{{@key}}={{this}}{{#unless @last}}, {{/unless}}"
                    + "{{/each}}"
            ) == "0.web1=80, 1.db1=20")
        // The corpus' most common form: each row's fields, by key.
        #expect(try render("{{#each trigger.json.rows}}{{#each .}}{{@key}}: {{.}};{{/each}}{{/each}}") == "a: 1;b: x;")
    }

    @Test(arguments: [
        "trigger.json.missing", "steps.lookup.output.hosts[1].ips", "trigger.json.nothing", "trigger.json.none",
        "trigger.json.note", "trigger.json.id",
    ])
    func eachRendersItsElsePartWhenThereIsNothingToGoOver(path: String) throws {
        #expect(try render("{{#each \(path)}}item{{else}}none{{/each}}") == "none")
        #expect(try render("{{#each \(path)}}item{{/each}}") == "")
    }

    @Test func blocksNestAndTheirElsePartsReadTheEnclosingItem() throws {
        #expect(
            try render("{{#each steps.lookup.output.hosts}}{{name}}:{{#each ips}}{{.}},{{else}}none{{/each}}|{{/each}}")
                == "web1:10.0.0.1,10.0.0.2,|db1:none|")
        #expect(
            try render("{{#each steps.lookup.output.hosts}}{{#each ips}}{{else}}{{name}} has none{{/each}}{{/each}}")
                == "db1 has none")
        #expect(try render("{{#each trigger.json.matrix}}[{{#each .}}{{this}}{{/each}}]{{/each}}") == "[12][3]")
    }

    @Test func relativePathsReadThisAndDotDotClimbsOneEachPerStep() throws {
        #expect(
            try render("{{#each steps.lookup.output.hosts}}{{#each ips}}{{../name}}={{this}} {{/each}}{{/each}}")
                == "web1=10.0.0.1 web1=10.0.0.2 ")
        #expect(
            try render(
                "{{#each trigger.json.groups}}{{#each hosts}}{{#each ips}}{{../../name}}/{{../name}}/{{.}}"
                    + "{{/each}}{{/each}}{{/each}}") == "g/h/10.1.1.1")
        #expect(
            try render("{{#each trigger.json.matrix}}{{#each .}}{{#if @first}}{{..}}{{/if}}{{/each}}{{/each}}")
                == "[1,2][3]")
        // #if does not change this, so ../ skips it.
        #expect(
            try render(
                "{{#each steps.lookup.output.hosts}}{{#if ips}}{{#each ips}}{{#if this}}{{../name}}{{/if}}{{/each}}"
                    + "{{/if}}{{/each}}") == "web1web1")
        #expect(
            try render(
                #"{{#each steps.lookup.output.hosts}}{{#if @first}}{{this["name"]}}/{{./name}}/{{ips[0]}}{{/if}}"#
                    + "{{/each}}"
            )
                == "web1/web1/10.0.0.1")
    }

    @Test func relayRootsWinInsideEachAndThisReachesFieldsNamedLikeThem() throws {
        #expect(
            try render(#"{{#each trigger.json.tags}}{{ trigger.json.id }}{{ vars["Channel Name"] }} {{/each}}"#)
                == "7#soc 7#soc ")
        #expect(try render("{{#each trigger.json.records}}{{this.steps}}{{/each}}") == "3")
        var itemScope = scope
        itemScope.item = "the item"
        itemScope.index = 4
        #expect(
            try render("{{#each trigger.json.tags}}{{item}}@{{index}} {{/each}}", in: itemScope)
                == "the item@4 the item@4 ")
    }

    static let truthiness: [(JSONValue?, Bool)] = [
        (nil, false), (.null, false), (false, false), (true, true), ("", false), ("0", true), (" ", true),
        (0, false), (0.0, false), (-0.0, false), (.double(.nan), false), (1, true), (-1, true), (0.5, true),
        ([], false), ([0], true), ([nil], true), ([:], true), (["a": nil], true),
    ]

    @Test(arguments: truthiness)
    func ifAndUnlessFollowHandlebarsTruthiness(value: JSONValue?, truthy: Bool) throws {
        var json: JSONObject = [:]
        if let value { json["v"] = value }
        let scope = Template.Scope(trigger: .object(json))
        let text = "{{#if trigger.v}}yes{{else}}no{{/if}} {{#unless trigger.v}}yes{{else}}no{{/unless}}"
        #expect(try render(text, in: scope) == (truthy ? "yes no" : "no yes"))
    }

    @Test func elseChainsTakeTheFirstClauseThatHolds() throws {
        let chain = { (id: Int) in
            "{{#if trigger.json.empty}}A{{else if trigger.json.zero}}B{{else unless trigger.json.note}}C"
                + "{{else equal trigger.json.id \(id)}}D{{else}}E{{/if}}"
        }
        #expect(try render(chain(7)) == "D")
        #expect(try render(chain(8)) == "E")
        #expect(try render("{{#if trigger.json.zero}}A{{else if trigger.json.flag}}B{{/if}}") == "B")
        #expect(try render("{{#unless trigger.json.flag}}A{{else unless trigger.json.none}}B{{/unless}}") == "B")
    }

    @Test(arguments: [
        (#"trigger.json.note "urgent""#, true), (#"trigger.json.note "Urgent""#, false),
        ("trigger.json.zero 0.0", true), (#"trigger.json.id "7""#, false), ("7 trigger.json.id", true),
        ("trigger.json.id -7", false), ("trigger.json.none null", true), ("trigger.json.missing null", false),
        ("trigger.json.missing trigger.json.other", false), ("trigger.json.flag true", true),
        ("trigger.json.tags trigger.json.tags", true), (#""a\"b" "a\"b""#, true),
    ])
    func equalComparesLikeConditions(operands: String, equal: Bool) throws {
        #expect(try render("{{#equal \(operands)}}y{{else}}n{{/equal}}") == (equal ? "y" : "n"))
    }

    @Test func equalReadsRelativeFields() throws {
        #expect(
            try render(#"{{#each steps.lookup.output.hosts}}{{#equal name "db1"}}{{@index}}{{/equal}}{{/each}}"#)
                == "1")
    }

    @Test func aMissingReferenceIsAnErrorInATagAndFalseInABlock() throws {
        #expect(
            throws: TemplateError(
                message: "{{ trigger.json.nope }} at line 2, column 3: trigger.json.nope does not exist")
        ) { try render("a\n  {{ trigger.json.nope }}") }
        #expect(
            throws: TemplateError(
                message:
                    "{{ fqdn }} at line 2, column 1: this.fqdn does not exist (this is item 0 of "
                    + "{{#each steps.lookup.output.hosts}} at line 1, column 1)")
        ) { try render("{{#each steps.lookup.output.hosts}}\n{{ fqdn }}{{/each}}") }
        #expect(
            throws: TemplateError(
                message:
                    "{{ ips[1] }} at line 1, column 36: this.ips: no item 1 in a list of 0 (this is item 1 of "
                    + "{{#each steps.lookup.output.hosts}} at line 1, column 1)")
        ) { try render("{{#each steps.lookup.output.hosts}}{{ ips[1] }}{{/each}}") }
        #expect(
            throws: TemplateError(
                message:
                    #"{{ this.x }} at line 1, column 37: this is integer, it has no x (this is the value of "web1" "#
                    + "in {{#each steps.lookup.output.scores}} at line 1, column 1)")
        ) { try render("{{#each steps.lookup.output.scores}}{{ this.x }}{{/each}}") }
        #expect(try render("{{#if trigger.json.nope.deeper}}x{{else}}y{{/if}}") == "y")
        #expect(try render("{{#if trigger.json.note.length}}x{{else}}y{{/if}}") == "y")
        #expect(
            try render("{{#each trigger.json.nope}}x{{else}}y{{/each}}{{#unless trigger.json.nope}}z{{/unless}}")
                == "yz")
    }

    struct Mistake: Sendable, CustomTestStringConvertible {
        let text: String
        let message: String
        init(_ text: String, _ message: String) {
            self.text = text
            self.message = message
        }
        var testDescription: String { text }
    }

    static let relativeOutside =
        "must start with trigger., steps., vars. or run. (or be item or index in a for_each step); inside {{#each}}, "
        + "it would be read from this"

    static let mistakes: [Mistake] = [
        Mistake(
            "{{#each trigger.list}}\n  {{#if this}}\n{{/each}}",
            "{{/each}} at line 3, column 1 closes {{#if}} opened at line 2, column 3; expected {{/if}}"),
        Mistake(
            "{{#each trigger.list}}{{/if}}",
            "{{/if}} at line 1, column 23 closes {{#each}} opened at line 1, column 1; expected {{/each}}"),
        Mistake(
            "ab\n{{#if trigger.x}}",
            "{{#if}} opened at line 2, column 1 is not closed: expected {{/if}} before the end of the text"),
        Mistake(
            "é{{#unless trigger.x}}",
            "{{#unless}} opened at line 1, column 2 is not closed: expected {{/unless}} before the end of the text"),
        Mistake("{{#if trigger.x}}{{/if}}{{/if}}", "{{/if}} at line 1, column 25 closes nothing: no block is open"),
        Mistake("{{#if trigger.x}}{{/if}}{{else}}", "{{else}} at line 1, column 25 is outside any block"),
        Mistake(
            "{{#if trigger.x}}a{{else}}b{{else}}c{{/if}}",
            "{{else}} at line 1, column 28: {{#if}} opened at line 1, column 1 already has its {{else}}"),
        Mistake(
            "{{#each trigger.x}}a{{else if trigger.y}}b{{/each}}",
            "{{else if trigger.y}} at line 1, column 21: {{#each}} opened at line 1, column 1 takes a plain {{else}}; "
                + "{{else if …}} continues {{#if}}, {{#unless}} or {{#equal}}"),
        Mistake(
            "{{#if trigger.x}}{{else each trigger.y}}{{/if}}",
            "{{else each trigger.y}} at line 1, column 18: expected {{else}}, {{else if …}}, {{else unless …}} or "
                + #"{{else equal …}}, found else "each""#),
        Mistake(
            "{{#with trigger.x}}{{/with}}",
            ##"{{#with trigger.x}} at line 1, column 1: unknown block "#with"; expected #each, #if, #unless or #equal"##
        ),
        Mistake("{{#if trigger.x}}{{ trigger.y", #""{{" at line 1, column 18 has no closing "}}""#),
        Mistake(
            "{{#if trigger.x}}{{{ trigger.y }}{{/if}}",
            #""{{{" at line 1, column 18: expected "}}}" to close it, found "}}""#),
        Mistake(
            "{{#if trigger.x}}{{}}{{/if}}",
            "{{}} at line 1, column 18: expected a reference such as steps.ID.output.field, this or @index, found "
                + "nothing"),
        Mistake("{{#if fqdn}}x{{/if}}", #"{{#if fqdn}} at line 1, column 1: "fqdn" "# + relativeOutside),
        Mistake("{{#if trigger.x}}{{this}}{{/if}}", "{{this}} at line 1, column 18: this exists only inside {{#each}}"),
        Mistake("{{#if trigger.x}}{{.}}{{/if}}", "{{.}} at line 1, column 18: . exists only inside {{#each}}"),
        Mistake(
            "{{#each trigger.list}}{{../name}}{{/each}}",
            #"{{../name}} at line 1, column 23: "../name" reads from the #each 1 level out, but only 1 #each "#
                + "encloses it"),
        Mistake(
            "{{#each trigger.list}}{{else}}{{name}}{{/each}}",
            #"{{name}} at line 1, column 31: "name" "# + relativeOutside),
        Mistake("{{#if @index}}{{/if}}", "{{#if @index}} at line 1, column 1: @index exists only inside {{#each}}"),
        Mistake(
            "{{#each trigger.list}}{{@date}}{{/each}}",
            #"{{@date}} at line 1, column 23: "@date": expected @index, @key, @first or @last, found @date"#),
        Mistake(
            "{{#each trigger.list}}{{@index.x}}{{/each}}",
            #"{{@index.x}} at line 1, column 23: "@index.x": @index has no x"#),
        Mistake(
            "{{#equal trigger.x}}{{/equal}}",
            "{{#equal trigger.x}} at line 1, column 1: expected two values to compare after equal, found one"),
        Mistake("{{#if}}{{/if}}", "{{#if}} at line 1, column 1: expected a reference after if, found nothing"),
        Mistake(
            "{{#if trigger.x trigger.y}}{{/if}}",
            #"{{#if trigger.x trigger.y}} at line 1, column 1: expected the end of the tag, found "trigger.y""#),
        Mistake(
            #"{{#each "x"}}{{/each}}"#,
            #"{{#each "x"}} at line 1, column 1: ""x"": expected a reference, found a literal"#),
        Mistake(
            "{{#if true}}{{/if}}", #"{{#if true}} at line 1, column 1: "true": expected a reference, found a literal"#),
        Mistake(
            "{{#equal trigger.x 1.2.3}}{{/equal}}",
            #"{{#equal trigger.x 1.2.3}} at line 1, column 1: "1.2.3": expected a number, found "1.2.3""#),
        Mistake(
            "{{#each trigger.list.[a]}}{{/each}}",
            #"{{#each trigger.list.[a]}} at line 1, column 1: "trigger.list.[a]": expected a field name after "." at "#
                + #"character 14, found "[""#),
        Mistake(
            "{{#if trigger.x}}\n{{ index.x }}{{/if}}",
            #"{{ index.x }} at line 2, column 1: "index.x": index is a number, it has no x"#),
        Mistake(
            "{{#if trigger.x}}{{/}}",
            #"{{/}} at line 1, column 18: expected the name of the block to close after "/""#),
        Mistake(
            "{{#if trigger.x}}{{/if x}}",
            #"{{/if x}} at line 1, column 18: expected the end of the tag after "/if", found "x""#),
    ]

    @Test(arguments: mistakes)
    func mistakesAreErrorsSayingWhere(mistake: Mistake) {
        #expect(throws: TemplateError(message: mistake.message)) { try TextTemplate(mistake.text) }
    }

    @Test func linesHoldingOnlyBlockTagsLeaveNothingBehind() throws {
        let list = { (path: String) in
            "Hosts:\n{{#each \(path)}}\n  - {{name}}\n{{else}}\n  none\n{{/each}}\nEnd"
        }
        #expect(try render(list("steps.lookup.output.hosts")) == "Hosts:\n  - web1\n  - db1\nEnd")
        #expect(try render(list("trigger.json.missing")) == "Hosts:\n  none\nEnd")
        #expect(try render("  {{#if trigger.json.note}}  \n  yes\n  {{/if}}\nafter") == "  yes\nafter")
        #expect(try render("{{#if trigger.json.note}}\r\nx\r\n{{/if}}\r\n") == "x\r\n")
        // Not alone on their lines: kept as written; a value tag alone on its line is not a block tag.
        #expect(try render("a {{#if trigger.json.note}}b{{/if}}\n") == "a b\n")
        #expect(try render("{{#if trigger.json.note}}\n{{ trigger.json.note }}\n{{/if}}") == "urgent\n")
    }

    @Test func anInsightConnectArtifactInRelaysSyntax() throws {
        let scope = Template.Scope(
            trigger: [:],
            steps: [
                "alert": [
                    "output": [
                        "actors": ["assets": [["fqdn": "a.example", "shortname": "a"], ["shortname": "b"]]],
                        "contents": ["urls": ["http://x", "http://y"], "domains": []],
                    ]
                ]
            ])
        let text = """
            **Available Actors**
            {{#each steps.alert.output.actors.assets}}
            {{#if fqdn}}
            Asset FQDN: {{fqdn}}
            {{/if}}
            {{#if shortname}}
            Asset Shortname: {{shortname}}
            {{/if}}
            {{/each}}
            {{#if steps.alert.output.contents.urls}}
            **Alert URLs**
            {{# each steps.alert.output.contents.urls}}
            + {{this}}
            {{/each}}
            {{/if}}
            {{#if steps.alert.output.contents.domains}}
            **Alert Domains**
            {{/if}}
            Done.
            """
        #expect(
            try render(text, in: scope)
                == "**Available Actors**\nAsset FQDN: a.example\nAsset Shortname: a\nAsset Shortname: b\n"
                + "**Alert URLs**\n+ http://x\n+ http://y\nDone.")
    }

    @Test func referencesListEveryAbsolutePathInOrder() throws {
        let template = try TextTemplate(
            "{{#each steps.a.output.hosts}}{{ name }} {{ trigger.json.id }}{{#equal this.x vars.y}}{{/equal}}"
                + "{{/each}}{{#if run.id}}{{ index }}{{else if item.host}}{{/if}}")
        #expect(
            template.references == [
                ["steps", "a", "output", "hosts"], ["trigger", "json", "id"], ["vars", "y"], ["run", "id"], ["index"],
                ["item", "host"],
            ])
        #expect(try TextTemplate("{{#each steps.a.output.hosts}}{{ name }}{{ ips[0] }}{{/each}}").references.count == 1)
    }

    @Test func aBlockTagMakesATextTemplate() {
        for text in ["a {{#if x}}", "{{# each x}}", "{{{#", "x{{#"] {
            #expect(TextTemplate.isBlockTemplate(text), "\(text)")
        }
        for text in ["{{ x }}", "{ {#", "#{{", "{{/if}}", "{{else}}", "{#{#", "{{ #if x }}"] {
            #expect(!TextTemplate.isBlockTemplate(text), "\(text)")
        }
    }

    @Test func nestingIsLimited() throws {
        let open = "{{#if trigger.json.flag}}"
        let deepest = String(repeating: open, count: 64) + "x" + String(repeating: "{{/if}}", count: 64)
        #expect(try render(deepest) == "x")
        let tooDeep = String(repeating: open, count: 65) + String(repeating: "{{/if}}", count: 65)
        #expect(
            throws: TemplateError(
                message: "\(open) at line 1, column \(open.count * 64 + 1): blocks nest more than 64 deep, the limit "
                    + "of a text template")
        ) { try TextTemplate(tooDeep) }
        // Far past the limit, reading stops at it (no recursion on the text).
        let error = #expect(throws: TemplateError.self) {
            try TextTemplate(String(repeating: "{{#each trigger.x}}", count: 50_000))
        }
        #expect(error?.message.hasSuffix("blocks nest more than 64 deep, the limit of a text template") == true)
    }

    @Test func theTextIsLimited() throws {
        let blocks = "{{#if trigger.json.flag}}{{/if}}"
        let longest = blocks + String(repeating: "a", count: TextTemplate.longestText - blocks.utf8.count)
        #expect(try render(longest).count == TextTemplate.longestText - blocks.utf8.count)
        #expect(
            throws: TemplateError(
                message: "the text template is 1048577 bytes long, more than the limit of 1048576 bytes (1 MiB)")
        ) { try TextTemplate(longest + "a") }
    }

    @Test func theRenderedTextIsLimitedAsItGrows() throws {
        let half = String(repeating: "x", count: TextTemplate.longestOutput / 2)
        let big = { (items: Int) in
            Template.Scope(trigger: ["big": .string(half), "list": .array(Array(repeating: 1, count: items))])
        }
        #expect(try render("{{#each trigger.list}}{{ trigger.big }}{{/each}}", in: big(2)).utf8.count == 1 << 20)
        #expect(
            throws: TemplateError(
                message: "the rendered text passes 1048576 bytes (1 MiB), the limit of a text template, writing "
                    + "{{ trigger.big }} at line 1, column 23")
        ) { try render("{{#each trigger.list}}{{ trigger.big }}{{/each}}", in: big(3)) }
        let many = Template.Scope(trigger: ["list": .array(Array(repeating: 1, count: 2_000))])
        #expect(
            throws: TemplateError(
                message: "the rendered text passes 1048576 bytes (1 MiB), the limit of a text template, in item 1048 "
                    + "of {{#each trigger.list}} at line 1, column 1")
        ) { try render("{{#each trigger.list}}" + String(repeating: "y", count: 1000) + "{{/each}}", in: many) }
    }

    @Test func renderingStepsAreLimitedEvenWhenNothingIsWritten() throws {
        let text = "{{#each trigger.l}}{{#each trigger.l}}{{#each trigger.l}}{{/each}}{{/each}}{{/each}}"
        let list = { (count: Int) in Template.Scope(trigger: ["l": .array((0..<count).map { .int($0) })]) }
        #expect(try render(text, in: list(50)) == "")
        let error = #expect(throws: TemplateError.self) { try render(text, in: list(200)) }
        #expect(
            error?.message.hasPrefix(
                "rendering takes more than 1000000 steps (text runs, tags and #each items), the limit of a text "
                    + "template, in item ") == true, "\(String(describing: error))")
    }

    @Test func templatesRenderStringsWithBlockTagsAsText() throws {
        #expect(
            try Template.render(
                ["text": "{{#each trigger.json.tags}}{{this}};{{/each}}", "n": "{{ trigger.json.id }}"], scope: scope)
                == ["text": "a;b;", "n": 7])
        // A text template renders to a string, even around a single reference.
        #expect(try Template.render("{{#if trigger.json.id}}{{ trigger.json.id }}{{/if}}", scope: scope) == "7")
        #expect(
            try Template.references(in: ["a": ["{{#each steps.x.output.list}}{{ name }}{{ vars.v }}{{/each}}"]])
                == [["steps", "x", "output", "list"], ["vars", "v"]])
        #expect(try Template.singleReference("{{#each steps.a.output.b}}{{/each}}") == nil)
        #expect(
            throws: TemplateError(
                message: "{{/if}} at line 1, column 28 closes {{#each}} opened at line 1, column 1; expected {{/each}}")
        ) { try Template.references(in: "{{#each trigger.json.tags}}{{/if}}") }
        #expect(
            throws: TemplateError(
                message: "{{ this.nope }} at line 1, column 28: this is string, it has no nope (this is "
                    + "item 0 of {{#each trigger.json.tags}} at line 1, column 1)")
        ) { try Template.render(["a": "{{#each trigger.json.tags}}{{ this.nope }}{{/each}}"], scope: scope) }
    }
}
