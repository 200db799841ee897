import RelayCore
import Testing

@testable import RelayImport

/// Decision expressions from the corpus (the AST InsightConnect stores), translated to Relay's condition text.
@Suite struct ConditionTranslationTests {
    static let loop = "06bd742c-d3a6-4f68-856c-75fafd2a89a2"
    static let step = "7d3e0000-d3a6-4f68-856c-75fafd2a89a2"
    static let trigger = "79fddb0f-359c-4b94-98b1-cdd09e801247"

    /// References resolve as in a loop body: the loop's item is `trigger.item`, the step is `lookup`, the trigger
    /// is the webhook's body passed in as `event`.
    func translate(_ json: String) throws -> Result<String, TranslationGap> {
        let expression = try ICONExpression.decode(try JSONParser.parse(json), path: "expression")
        var translator = ConditionTranslator(
            nodes: [Self.loop, Self.step, Self.trigger],
            resolve: { reference in
                switch reference {
                case .node(Self.loop, let path) where path.first == "$item":
                    return .success(RelayReference(root: "trigger.item").appending(Array(path.dropFirst())).description)
                case .node(Self.step, let path):
                    return .success(RelayReference(root: "steps.lookup.output").appending(path).description)
                case .node(Self.trigger, let path):
                    return .success(RelayReference(root: "trigger.json").appending(path).description)
                case .variable(let name, let path):
                    return .success(RelayReference.variable(name).appending(path).description)
                default: return .failure(TranslationGap("unresolved"))
                }
            },
            status: { node in node == Self.step ? .success("steps.lookup.status") : .failure(TranslationGap("no")) })
        return translator.translate(expression).map(\.description)
    }

    @Test func containsOnALoopItem() throws {
        // Alert_on_Presence_of_Zero_Logon_Vulnerability_with_Slack: "Is Zero Logon?"
        let text = try translate(
            #"{"type":"binary","op":"contains","left":{"type":"variable","name":"\#(Self.loop).$item"},"right":{"t"#
                + #"ype":"literal","value":"cve-2020-1472"}}"#
        )
        #expect(text == .success(#"trigger.item contains "cve-2020-1472""#))
    }

    @Test(arguments: [
        ("=", false, #"steps.lookup.status != "succeeded""#), ("==", true, #"steps.lookup.status == "succeeded""#),
        ("!=", true, #"steps.lookup.status != "succeeded""#), ("!=", false, #"steps.lookup.status == "succeeded""#),
    ])
    func successComparedWithABoolean(op: String, value: Bool, expected: String) throws {
        // `{{[7d3e…].[$success]}} = false`, 49 decisions.
        let text = try translate(
            #"{"type":"binary","op":"\#(op)","left":{"type":"variable","name":"\#(Self.step).$success"},"right":{""#
                + #"type":"literal","value":\#(value)}}"#
        )
        #expect(text == .success(expected))
    }

    @Test func lengthOfAListGreaterThanZero() throws {
        let text = try translate(
            #"{"type":"binary","op":">","left":{"type":"function","name":"length","args":[{"type":"variable","name"#
                + #"":"\#(Self.trigger).message.indicators.ip_addresses.ipv4_addresses"}]},"right":{"type":"litera"#
                + #"l","value":0}}"#
        )
        #expect(text == .success("length(trigger.json.message.indicators.ip_addresses.ipv4_addresses) > 0"))
    }

    @Test func regularExpressionBecomesMatches() throws {
        // `{{[f37a…].[summary].[operating_system]}} =~ /.*(?i)windows/`
        let text = try translate(
            #"{"type":"binary","op":"=~","left":{"type":"variable","name":"\#(Self.step).summary.operating_system""#
                + #"},"right":{"type":"regexp","regexp":".*(?i)windows"}}"#
        )
        #expect(text == .success(#"steps.lookup.output.summary.operating_system matches ".*(?i)windows""#))
    }

    @Test func orInsideAndKeepsItsParentheses() throws {
        // `… == "global" OR (… == "asset" AND (… == "asset" OR … == "instance"))`
        let scope = #"{"type":"variable","name":"\#(Self.step).scope"}"#
        func equals(_ value: String) -> String {
            #"{"type":"binary","op":"==","left":\#(scope),"right":{"type":"literal","value":"\#(value)"}}"#
        }
        let json =
            #"{"type":"binary","op":"OR","left":\#(equals("global")),"right":{"type":"binary","op":"AND","left":"#
            + #"\#(equals("asset")),"right":{"type":"binary","op":"or","left":\#(equals("asset")),"right":"#
            + #"\#(equals("instance"))}}}"#
        let text = try translate(json)
        #expect(
            text
                == .success(
                    #"steps.lookup.output.scope == "global" or steps.lookup.output.scope == "asset" and "#
                        + #"(steps.lookup.output.scope == "asset" or steps.lookup.output.scope == "instance")"#
                ))
    }

    @Test func notAndIsDefinedAndAVariable() throws {
        // `length(x) <= {{$workflow.[Max Vulnerabilities]}}` and `NOT is_defined(x)`
        let text = try translate(
            #"{"type":"binary","op":"AND","left":{"type":"unary","op":"NOT","expr":{"type":"function","name":"is_d"#
                + #"efined","args":[{"type":"variable","name":"\#(Self.step).search_results"}]}},"right":{"type":""#
                + #"binary","op":"<=","left":{"type":"function","name":"length","args":[{"type":"variable","na"#
                + #"me":"\#(Self.step).search_results"}]},"right":{"type":"variable","name":"$workflow.Max"#
                + #" Vulnerabilities"}}}"#
        )
        #expect(
            text
                == .success(
                    #"not is_defined(steps.lookup.output.search_results) and "#
                        + #"length(steps.lookup.output.search_results) <= vars["Max Vulnerabilities"]"#
                ))
    }

    @Test func keysWithSpacesAreQuoted() throws {
        let text = try translate(#"{"type":"variable","name":"\#(Self.step).Go back"}"#)
        #expect(text == .success(#"steps.lookup.output["Go back"]"#))
    }

    @Test func aBareLiteralOperandIsKeptAsWrittenAndNoted() throws {
        // `… contains "CVE-2021-27065" OR "CVE-2021-27078"` (a corpus mistake, reproduced, not fixed).
        let expression = try ICONExpression.decode(
            try JSONParser.parse(
                #"{"type":"binary","op":"OR","left":{"type":"binary","op":"contains","left":{"type":"variable","na"#
                    + #"me":"\#(Self.loop).$item"},"right":{"type":"literal","value":"CVE-2021-27065"}},"right":{""#
                    + #"type":"literal","value":"CVE-2021-27078"}}"#
            ),
            path: "e")
        var translator = ConditionTranslator(
            nodes: [Self.loop], resolve: { _ in .success("trigger.item") },
            status: { _ in .failure(TranslationGap("")) })
        let text = translator.translate(expression).map(\.description)
        #expect(text == .success(#"trigger.item contains "CVE-2021-27065" or "CVE-2021-27078""#))
        #expect(translator.notes.count == 1)
    }

    @Test func anEmptyConditionIsAGap() throws {
        guard case .failure(let gap) = try translate("{}") else {
            Issue.record("an empty condition was translated")
            return
        }
        #expect(gap.reason.contains("never configured"))
    }

    @Test func unknownFunctionsAndUnresolvedReferencesAreGaps() throws {
        let upper = try translate(#"{"type":"function","name":"upper","args":[{"type":"literal","value":"x"}]}"#)
        guard case .failure(let gap) = upper else {
            Issue.record("upper() was translated")
            return
        }
        #expect(gap.reason.contains("upper()"))
        let unresolved = try translate(
            #"{"type":"variable","name":"a6230000-0000-4000-8000-000000000000.$matched"}"#)
        if case .success = unresolved { Issue.record("a reference to an unknown node was translated") }
    }

    @Test func precedenceIsPrintedWithTheParenthesesNeeded() {
        let a = RelayCondition.comparison(.reference("steps.a.output.x"), "==", .literal(1))
        let b = RelayCondition.comparison(.reference("steps.b.output.y"), "!=", .literal("z"))
        #expect(
            RelayCondition.all([.negation(a), .negation(b)])?.description
                == #"not (steps.a.output.x == 1) and not (steps.b.output.y != "z")"#)
        #expect(
            RelayCondition.all([.or([a, b]), a])?.description
                == #"(steps.a.output.x == 1 or steps.b.output.y != "z") and steps.a.output.x == 1"#)
        #expect(RelayCondition.negation(.negation(a)) == a)
    }
}
