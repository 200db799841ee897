import RelayCore
import Testing

@Suite struct TemplateTests {
    let scope = Template.Scope(
        trigger: ["alert": ["host": "db1", "port": 5432, "tags": ["a", "b"]]],
        steps: ["lookup": ["status": "succeeded", "output": ["ip": "10.0.0.1", "found": true], "error": nil]])

    @Test func aSingleReferenceKeepsItsJSONType() throws {
        #expect(try Template.render("{{ trigger.alert.port }}", scope: scope) == 5432)
        #expect(try Template.render("{{trigger.alert.tags}}", scope: scope) == ["a", "b"])
        #expect(try Template.render("{{ steps.lookup.output }}", scope: scope) == ["ip": "10.0.0.1", "found": true])
    }

    @Test func referencesInsideTextAreWrittenIn() throws {
        #expect(
            try Template.render("host {{ trigger.alert.host }}:{{ trigger.alert.port }}", scope: scope)
                == "host db1:5432")
        #expect(try Template.render("tags={{ trigger.alert.tags }}", scope: scope) == #"tags=["a","b"]"#)
        #expect(
            try Template.render(["nested": ["{{ trigger.alert.tags[1] }}", 3]], scope: scope) == ["nested": ["b", 3]])
    }

    @Test func aMissingReferenceIsAnErrorNamingIt() {
        #expect(throws: TemplateError(message: "trigger.alert.nope does not exist")) {
            try Template.render("{{ trigger.alert.nope }}", scope: scope)
        }
        #expect(throws: TemplateError(message: "trigger.alert.tags: no item 5 in a list of 2")) {
            try Template.render("{{ trigger.alert.tags[5] }}", scope: scope)
        }
        #expect(
            throws: TemplateError(
                message:
                    "\"env.HOME\" must start with trigger., steps. or vars. (or be item or index in a for_each step)")
        ) {
            try Template.render("{{ env.HOME }}", scope: scope)
        }
    }

    @Test func anItemOfAForEachStepSeesItemAndIndex() throws {
        var itemScope = scope
        itemScope.item = ["host": "web2", "ports": [80, 443]]
        itemScope.index = 3
        #expect(try Template.render("{{ item }}", scope: itemScope) == ["host": "web2", "ports": [80, 443]])
        #expect(try Template.render("{{ index }}", scope: itemScope) == 3)
        #expect(
            try Template.render(
                "{{ index }}: {{ item.host }}:{{ item.ports[1] }} on {{ trigger.alert.host }}", scope: itemScope)
                == "3: web2:443 on db1")
        // Outside an item, there is none.
        #expect(throws: TemplateError(message: "item does not exist")) {
            try Template.render("{{ item.host }}", scope: scope)
        }
        #expect(try Template.singleReference("{{ steps.a.output.ips }}") == ["steps", "a", "output", "ips"])
        #expect(try Template.singleReference("ips: {{ steps.a.output.ips }}") == nil)
    }

    /// A reference is looked up in the scope's own members, without making the scope's JSON object: what it finds,
    /// and the error when it finds nothing, are what looking it up in that object gives.
    @Test func aReferenceFindsInTheScopeWhatItsJSONHas() throws {
        var full = scope
        full.vars = ["Channel Name": "ops", "n": 2]
        full.item = ["host": "web2", "ports": [80, 443]]
        full.index = 3
        full.run = ["id": "run-1", "workflow": "w"]
        let paths: [[String]] = [
            ["trigger"], ["trigger", "alert", "host"], ["trigger", "alert", "tags", "1"],
            ["trigger", "alert", "tags", "7"],
            ["trigger", "alert", "host", "x"], ["trigger", "nope"], ["steps"], ["steps", "lookup", "output", "ip"],
            ["steps", "missing", "output"], ["vars", "Channel Name"], ["vars", "none"], ["item", "ports", "0"],
            ["index"], ["index", "x"], ["run", "id"], ["run", "nope"], ["item"], ["nothing"], ["nothing", "x"],
        ]
        for scope in [scope, full] {
            for path in paths {
                let inScope = Result { () throws(TemplateError) in try Template.resolve(path, in: scope) }
                let inJSON = Result { () throws(TemplateError) in try Template.resolve(path, in: scope.json) }
                #expect(inScope == inJSON, "\(path)")
            }
        }
        #expect(try Template.render("{{ run.id }}/{{ vars[\"Channel Name\"] }}", scope: full) == "run-1/ops")
    }

    @Test func aQuotedKeyIsOneKeyWhateverItHolds() throws {
        let scope = Template.Scope(
            trigger: ["json": ["a.b": 1, "a": ["b": 2], "say \"hi\"": 3, "}}": 4, "é": 5, "list": [["name": "x"]]]],
            steps: ["lookup": ["output": ["Threat Score": 85, "Go back?": ["to": "start"]]]],
            vars: ["Channel Name": "#soc", "limit": 3])
        #expect(try Template.render(#"{{ steps.lookup.output["Threat Score"] }}"#, scope: scope) == 85)
        #expect(try Template.render(#"{{ trigger.json["a.b"] }} {{ trigger.json.a.b }}"#, scope: scope) == "1 2")
        #expect(try Template.render(#"{{ trigger.json["say \"hi\""] }}"#, scope: scope) == 3)
        #expect(try Template.render(#"{{ trigger.json["}}"] }}!"#, scope: scope) == "4!")
        #expect(try Template.render(#"{{ trigger.json["\u00e9"] }}"#, scope: scope) == 5)
        #expect(try Template.render(#"{{ trigger.json["list"][0]["name"] }}"#, scope: scope) == "x")
        #expect(try Template.render(#"{{ trigger.json.list[ 0 ].name }}"#, scope: scope) == "x")
        #expect(try Template.render(#"{{ steps.lookup.output["Go back?"].to }}"#, scope: scope) == "start")
        #expect(
            try Template.render(#"to {{ vars["Channel Name"] }}, {{ vars.limit }} at most"#, scope: scope)
                == "to #soc, 3 at most")
        #expect(
            try Template.path(#"steps.lookup.output["Threat Score"][0]"#)
                == ["steps", "lookup", "output", "Threat Score", "0"])
        #expect(
            Template.text(of: ["steps", "lookup", "output", "Threat Score", "0", "a.b", "ok"])
                == #"steps.lookup.output["Threat Score"][0]["a.b"].ok"#)
        #expect(throws: TemplateError(message: #"trigger.json["no such"] does not exist"#)) {
            try Template.render(#"{{ trigger.json["no such"] }}"#, scope: scope)
        }
    }

    @Test(arguments: [
        (#"{{ trigger.json["a }}"#, #""{{" without a closing "}}" in "{{ trigger.json["a }}""#),
        (
            "{{ trigger.json[a] }}",
            #""trigger.json[a]": expected a position or a quoted key (such as [0] or ["Threat Score"]) after "[" "#
                + #"at character 14, found "a""#
        ),
        ("{{ trigger.a b }}", #""trigger.a b": expected the end of the reference at character 11, found "b""#),
        ("{{ trigger. }}", #""trigger.": expected a field name after "." at character 9, found the end"#),
        (
            #"{{ trigger["\x"] }}"#,
            #""trigger["\x"]": invalid string at character 9: expected a valid escape sequence, found '\x"'"#
        ),
        ("{{ }}", #""" is not a reference like trigger.field or steps.ID.output.field"#),
    ])
    func aReferenceThatCannotBeReadIsAnErrorSayingWhere(template: String, message: String) {
        #expect(throws: TemplateError(message: message)) { try Template.render(.string(template), scope: scope) }
    }

    @Test func conditions() throws {
        #expect(try Condition(#"steps.lookup.status == "succeeded""#).holds(in: scope))
        #expect(try Condition("steps.lookup.output.found").holds(in: scope))
        #expect(try !Condition("not steps.lookup.output.found").holds(in: scope))
        #expect(try Condition("trigger.alert.port == 5432").holds(in: scope))
        #expect(try Condition("trigger.alert.host != 'db2'").holds(in: scope))
        #expect(try !Condition("trigger.missing").holds(in: scope))
    }

    @Test func retryBackoffDoublesUpToTheCap() {
        let policy = RetryPolicy(attempts: 5, backoff: .seconds(1), maxBackoff: .seconds(3))
        #expect(policy.delay(after: 1) == .seconds(1))
        #expect(policy.delay(after: 2) == .seconds(2))
        #expect(policy.delay(after: 3) == .seconds(3))
    }
}
