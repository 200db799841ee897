import RelayCore
import Testing

/// `when:` conditions: the forms Relay always had, the expression language (precedence, each operator and function
/// on each JSON type), missing values, errors with positions, and the limits.
@Suite struct ConditionTests {
    static let scope = Template.Scope(
        trigger: [
            "alert": [
                "host": "web-1", "port": 5432, "ratio": 0.5, "tags": ["a", "b"], "ok": true, "none": nil,
                "Threat Score": 85, "a.b": "dotted", "empty": "",
            ],
            "os": "Microsoft Windows Server 2019", "severity": "low",
        ],
        steps: [
            "lookup": [
                "status": "succeeded", "error": nil,
                "output": ["found": true, "ips": ["10.0.0.1", "10.0.0.2"], "none": [], "meta": ["k": 1], "n": 0],
            ],
            "check": ["status": "failed", "output": nil, "error": "timed out"],
        ],
        vars: ["Channel Name": "#soc", "threshold": 2, "watched": ["cve-2020-1472"]])

    static func holds(_ text: String) throws -> Bool { try Condition(text).holds(in: scope) }

    /// Every form a `when:` had before the expression language, with the meaning it had.
    @Test(arguments: [
        (#"steps.check.status == "failed""#, true),
        (#"steps.check.status == "succeeded""#, false),
        ("steps.check.status == failed", true),
        ("trigger.severity != low", false),
        ("trigger.severity != high", true),
        ("trigger.alert.port == 5432", true),
        ("trigger.alert.port == 5432.0", true),
        ("trigger.alert.host != 'db2'", true),
        ("trigger.alert.host == web-1", true),
        ("steps.lookup.output.ips[1] == 10.0.0.2", true),
        ("steps.lookup.output.found", true),
        ("steps.lookup.output.n", false),
        ("trigger.missing", false),
        ("not steps.lookup.output.found", false),
        ("not trigger.missing", true),
        ("{{ steps.lookup.output.found }}", true),
        ("{{ trigger.severity != 'low' }}", false),
        ("trigger.alert.tags == [\"a\", \"b\"]", true),
        ("trigger.alert.none == null", true),
        ("trigger.alert.ok == true", true),
    ])
    func theFormsRelayAlwaysHadKeepTheirMeaning(text: String, expected: Bool) throws {
        #expect(try Self.holds(text) == expected, "\(text)")
    }

    @Test func orBindsLooserThanAndWhichBindsLooserThanNot() throws {
        // `a or b and c` is `a or (b and c)`: with a true and c false, it holds.
        #expect(try Self.holds("trigger.alert.ok or trigger.missing and trigger.alert.ok"))
        #expect(try !Self.holds("(trigger.alert.ok or trigger.missing) and trigger.missing"))
        // `not a and b` is `(not a) and b`.
        #expect(try Self.holds("not trigger.missing and trigger.alert.ok"))
        #expect(try !Self.holds("not (trigger.missing or trigger.alert.ok)"))
        // `not a == b` is `not (a == b)`.
        #expect(try Self.holds("not trigger.severity == high"))
        #expect(try Self.holds("not not trigger.alert.ok"))
        #expect(try Self.holds("trigger.missing or trigger.missing or steps.lookup.output.found"))
        #expect(try !Self.holds("trigger.alert.ok and trigger.alert.ok and trigger.missing"))
    }

    /// Each comparison on each pair of JSON types: numbers by value, strings by code points, anything mismatched
    /// false (`!=` true).
    @Test(arguments: [
        ("1 < 2", true), ("2 <= 2", true), ("2.5 > 2", true), ("2 >= 2.0", true), ("-1 < 0", true),
        ("100000000000000000000 > 1", true), ("1e3 == 1000", true), ("3 < 2", false),
        (#""a" < "b""#, true), (#""B" < "a""#, true), (#""abc" <= "abc""#, true), (#""é" > "z""#, true),
        (#""10" < "9""#, true), (#""2" < 10"#, false), (#""2" > 10"#, false), ("true > false", false),
        ("null < 1", false), ("[1] < [2]", false), (#"{"a": 1} >= {"a": 1}"#, false),
        ("1 == 1.0", true), (#""1" == 1"#, false), (#""1" != 1"#, true), ("true == 1", false), ("null == null", true),
        ("[1, [2]] == [1.0, [2]]", true), (#"{"a": 1, "b": 2} == {"b": 2, "a": 1}"#, true), ("[] != {}", true),
        ("trigger.alert.port > vars.threshold", true), ("trigger.alert.ratio < 1", true),
        ("trigger.alert.host >= web", true), ("trigger.alert.host < web-0", false),
    ])
    func comparisons(text: String, expected: Bool) throws {
        #expect(try Self.holds(text) == expected, "\(text)")
    }

    @Test(arguments: [
        (#"trigger.os contains "Windows""#, true), (#"trigger.os contains "windows""#, false),
        (#"trigger.os contains """#, true), ("trigger.alert.tags contains b", true),
        ("trigger.alert.tags contains c", false), ("steps.lookup.output.ips contains 10.0.0.2", true),
        ("[1, 2.0, null] contains 2", true), ("[1, 2] contains \"1\"", false), ("[[1], {\"a\": 2}] contains [1]", true),
        ("[null] contains trigger.missing", true), ("steps.lookup.output.meta contains k", true),
        (#"trigger.alert contains "Threat Score""#, true), ("trigger.alert contains nope", false),
        ("steps.lookup.output.meta contains 1", false), ("trigger.alert.port contains 5", false),
        ("trigger.missing contains x", false), ("vars.watched contains 'cve-2020-1472'", true),
    ])
    func contains(text: String, expected: Bool) throws {
        #expect(try Self.holds(text) == expected, "\(text)")
    }

    @Test(arguments: [
        (#"trigger.os matches "(?i)windows""#, true), (#"trigger.os matches ".*(?i)WINDOWS""#, true),
        (#"trigger.os matches "windows""#, false), (#"trigger.os matches "^Microsoft""#, true),
        (#"trigger.os matches "^Windows""#, false), (#"trigger.alert.port matches "^54[0-9]+$""#, true),
        (#"trigger.alert.ok matches "^true$""#, true), (#"trigger.alert.tags matches "\"b\"""#, true),
        (#"trigger.missing matches ".*""#, false), (#"trigger.alert.none matches """#, false),
        (#"trigger.alert.empty matches "^$""#, true), (#"trigger.alert.host matches 'web-\\d'"#, true),
    ])
    func matches(text: String, expected: Bool) throws {
        #expect(try Self.holds(text) == expected, "\(text)")
    }

    @Test(arguments: [
        (#"length("héllo") == 5"#, true), (#"length("👩‍👩‍👧") == 1"#, true), ("length(trigger.alert.tags) == 2", true),
        ("length(trigger.alert) == 9", true), ("length(steps.lookup.output.none) == 0", true),
        ("length(trigger.alert.port) == 0", true), ("length(trigger.missing) == 0", true),
        ("length(true) == 0", true), ("length(null) == 0", true), ("length(steps.lookup.output.ips) > 1", true),
        ("length(length(trigger.os)) == 0", true), ("length(trigger.alert.tags) >= vars.threshold", true),
        ("is_defined(trigger.alert.none)", true), ("is_defined(trigger.alert.port)", true),
        ("is_defined(trigger.alert.missing)", false), ("is_defined(trigger.alert.tags[1])", true),
        ("is_defined(trigger.alert.tags[2])", false), (#"is_defined(trigger.alert["Threat Score"])"#, true),
        ("not is_defined(steps.nope.output)", true), ("is_defined(vars.threshold)", true),
        ("length(trigger.os)", true), ("length(steps.lookup.output.none)", false),
    ])
    func functions(text: String, expected: Bool) throws {
        #expect(try Self.holds(text) == expected, "\(text)")
    }

    /// A reference to nothing is null: it equals null, is unequal to anything else, orders with nothing.
    @Test(arguments: [
        ("trigger.nope == null", true), ("trigger.nope != null", false), ("trigger.nope == 0", false),
        ("trigger.nope != 0", true), ("trigger.nope < 1", false), ("trigger.nope >= 1", false),
        ("steps.nope.output.x == null", true), ("trigger.alert.port.deeper == null", true),
        ("trigger.alert.tags[9] == null", true), ("not trigger.nope", true), ("vars.nope == null", true),
    ])
    func aMissingReferenceIsNull(text: String, expected: Bool) throws {
        #expect(try Self.holds(text) == expected, "\(text)")
    }

    @Test func referencesWithQuotedKeysAndVars() throws {
        #expect(try Self.holds(#"trigger.alert["Threat Score"] > 80"#))
        #expect(try Self.holds(#"trigger.alert["a.b"] == "dotted""#))
        #expect(try Self.holds(#"trigger["alert"]["tags"][0] == a"#))
        #expect(try Self.holds(##"vars["Channel Name"] == "#soc""##))
        #expect(try Self.holds(#"trigger.alert["Threat\u0020Score"] == 85"#))
        let condition = try Condition(
            #"length(steps.lookup.output.ips) > vars.threshold or is_defined(trigger.alert["Threat Score"])"#
                + " and not (item.x == index)")
        #expect(
            condition.references == [
                ["steps", "lookup", "output", "ips"], ["vars", "threshold"], ["trigger", "alert", "Threat Score"],
                ["item", "x"], ["index"],
            ])
        #expect(try Condition("1 == 1").references.isEmpty)
    }

    @Test func stringsInQuotesTakeJSONEscapesAndSingleQuotesTakeEscapedQuotes() throws {
        #expect(try Self.holds(#"'it\'s' == "it's""#))
        #expect(try Self.holds(#"'say "hi"' == "say \"hi\"""#))
        #expect(try Self.holds(#""a\tb" == 'a\tb'"#))
        #expect(try Self.holds(#""\u00e9" == "é""#))
        #expect(try Self.holds(#""a and b" contains "and""#))
    }

    /// What a user gets for a condition that cannot be read: what was expected, where (characters from 1), and
    /// what was found.
    @Test(arguments: [
        ("steps.ab.ok and )", #"expected an operand after "and" at character 17, found ")""#),
        ("steps.ab.ok and", #"expected an operand after "and" at character 16, found the end"#),
        ("", "expected a condition, found nothing"),
        ("{{ }}", "expected a condition, found nothing"),
        ("trigger.x ==", #"expected an operand after "==" at character 13, found the end"#),
        ("not", #"expected an operand after "not" at character 4, found the end"#),
        ("(trigger.x == 1", #"expected ")" to close the "(" at character 1, found the end at character 16"#),
        ("trigger.x == 1)", #"expected "and", "or" or the end at character 15, found ")""#),
        ("trigger.x == 1 trigger.y", #"expected "and", "or" or the end at character 16, found "trigger.y""#),
        ("trigger.x == 1 == 2", #"expected "and", "or" or the end at character 16, found "==""#),
        ("trigger.x = 1", #""=" at character 11: did you mean "=="?"#),
        ("trigger.x ! 1", #""!" at character 11: did you mean "!=" or "not"?"#),
        (
            "foo == 1",
            #""foo" at character 1 is not a reference (trigger…, steps.ID…, item, index or vars.NAME), a literal or "#
                + "a function; write a string in quotes"
        ),
        ("upper(trigger.x)", #"unknown function "upper" at character 1; the functions are length and is_defined"#),
        (
            #"is_defined("x")"#,
            #"is_defined expects a reference such as steps.ID.output.field at character 12, found "x""#
        ),
        (
            "length(trigger.x, 1)",
            #"expected ")" to close the "(" at character 7, found "," at character 17"#
        ),
        (#"trigger.x matches "[a-""#, #""[a-" at character 19 is not a valid regular expression"#),
        ("trigger.x matches x", #"expected a regular expression in quotes after "matches" at character 19, found "x""#),
        (#"trigger.x == "abc"#, "the string at character 14 is not closed"),
        ("trigger.x == 'abc", "the string at character 14 is not closed"),
        (#"trigger.x == "\q""#, #"invalid string at character 14: expected a valid escape sequence, found '\q"'"#),
        ("trigger.x == [1, 2", #"the "[" at character 14 is not closed"#),
        (#"trigger.["a"]"#, #"expected a field name after "." at character 9, found "[""#),
        (
            "trigger[a] == 1",
            #"expected a position or a quoted key (such as [0] or ["Threat Score"]) after "[" at character 9, "#
                + #"found "a""#
        ),
        (#"trigger["a" == 1"#, #"expected "]" at character 13, found "=""#),
        ("index.n == 1", #""index.n": index is a number, it has no n at character 1"#),
        ("trigger.x == 1 @", #"expected "and", "or" or the end at character 16, found "@""#),
        ("trigger.x == 1 ;", #"expected "and", "or" or the end at character 16, found ";""#),
        ("{{ steps.ab.ok and ) }}", #"expected an operand after "and" at character 20, found ")""#),
    ])
    func errorsNameWhatWasExpectedWhereAndWhatWasFound(text: String, message: String) {
        #expect(throws: TemplateError(message: message)) { try Condition(text) }
    }

    @Test func limits() throws {
        // 64 levels of nesting are fine, 65 are not.
        let deep = String(repeating: "(", count: 64) + "trigger.alert.ok" + String(repeating: ")", count: 64)
        #expect(try Self.holds(deep))
        #expect(
            throws: TemplateError(
                message: "nested deeper than 64 levels (parentheses, not, functions) at character 65")
        ) {
            try Condition("(" + deep + ")")
        }
        #expect(
            throws: TemplateError(
                message: "nested deeper than 64 levels (parentheses, not, functions) at character 167")
        ) {
            try Condition(String(repeating: "not ", count: 32) + "length(" + deep + ")")
        }
        // A hostile `when` gives an error, not a crash: far too deep, far too long.
        #expect(throws: TemplateError.self) {
            try Condition(String(repeating: "(", count: 100_000))
        }
        #expect(throws: TemplateError.self) {
            try Condition(String(repeating: "not ", count: 1000) + "trigger.x")
        }
        #expect(
            throws: TemplateError(message: "a condition has at most 4096 characters; this one has more")
        ) {
            try Condition("trigger.x == \"" + String(repeating: "a", count: 4096) + "\"")
        }
        // A long chain of `and` or `or` adds no depth.
        let terms = Array(repeating: "trigger.alert.ok", count: 190)
        #expect(terms.joined(separator: " and ").count <= 4096)
        #expect(try Self.holds(terms.joined(separator: " and ")))
        #expect(try Self.holds(terms.joined(separator: " or ")))
    }

    @Test func conditionsAreEqualWhenTheirTextIs() throws {
        #expect(try Condition("trigger.x == 1") == Condition("trigger.x == 1"))
        #expect(try Condition("trigger.x == 1") != Condition("trigger.x == 2"))
        #expect(try Condition("trigger.x == 1").description == "trigger.x == 1")
    }
}
