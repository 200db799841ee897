import Foundation
import RelayCore
import RelaySpec
import RelayTestSupport
import Testing

@Suite struct SpecLinterTests {
    static let clean = """
        plugin_spec_version: v2
        extension: plugin
        products: [insightconnect]
        name: good_plugin
        title: Good Plugin
        description: Does good things
        version: 1.0.0
        vendor: rapid7
        support: community
        status: []
        tags: [one, two]
        hub_tags:
          use_cases: [data_utility]
          keywords: [good]
          features: []
        resources:
          source_url: https://example.com/src
          license_url: https://example.com/license
        enable_cache: true
        connection:
          api_key: {title: API Key, type: credential_secret_key, required: true, example: {secretKey: x}}
        actions:
          run_it:
            title: Run It
            description: Runs it
            input:
              target: {title: Target, description: What to run, type: string, required: true, example: x}
            output:
              result: {title: Result, description: What happened, type: string, required: true}
        triggers:
          watch:
            title: Watch for It
            description: Watches
            input:
              interval: {title: Interval, description: Seconds, type: int, required: false, example: 5}
            output:
              event: {title: Event, description: Something, type: object, required: true}
        """

    func lint(_ yaml: String) -> [String] {
        SpecLinter().lint(yaml: yaml, file: "s.yaml").map(\.description)
    }

    func replacing(_ old: String, with new: String) -> String {
        precondition(Self.clean.contains(old), "fixture has no \(old)")
        return Self.clean.replacingOccurrences(of: old, with: new)
    }

    @Test func aCleanSpecHasNoProblems() {
        #expect(lint(Self.clean) == [])
    }

    @Test(arguments: [
        (
            "plugin_spec_version: v2", "plugin_spec_version: v1",
            "s.yaml:1: spec-version: plugin_spec_version must be v2, found the string \"v1\""
        ),
        (
            "version: 1.0.0", "version: 1.0",
            "s.yaml:7: version: version must be a string like 1.0.0, found the number 1.0 (quote it or add "
                + "a patch number)"
        ),
        (
            "version: 1.0.0", "version: 0.1.0",
            "s.yaml:7: version: version '0.1.0' is not semantic: expected X.Y.Z with numbers only, starting at 1.0.0"
        ),
        ("vendor: rapid7", "vendor: Rapid7", "s.yaml:8: vendor: vendor 'Rapid7' must start with a lowercase letter"),
        (
            "support: community", "support: friends",
            "s.yaml:9: support: support must be one of rapid7, community, partner, found 'friends'"
        ),
        ("tags: [one, two]", "tags: [one]", "s.yaml:11: tags: at least 2 tags are needed, found 1"),
        (
            "use_cases: [data_utility]", "use_cases: [fun]",
            "s.yaml:13: use-cases: 'fun' is not a use case; use one of data_enrichment, "
                + "alerting_and_notifications, application_management, devops, asset_inventory, cloud_security, "
                + "credential_management, data_utility, offensive_security, remediation_management, "
                + "reporting_and_analytics, threat_detection_and_response, user_management, "
                + "vulnerability_management"
        ),
        ("name: good_plugin", "name: Good-Plugin", "s.yaml:4: name: plugin name 'Good-Plugin' has uppercase letters"),
        (
            "enable_cache: true", "enable_cache: false",
            "s.yaml:19: enable-cache: a plugin with triggers must set enable_cache: true"
        ),
        (
            "type: credential_secret_key", "type: password",
            "s.yaml:21: connection-password: connection.api_key has type 'password'; use a credential type "
                + "such as credential_secret_key"
        ),
        (
            "description: What to run,", "description: what to run.,",
            "s.yaml:27: description: actions.run_it.input.target: description ends with a period"
        ),
        (
            "title: Watch for It", "title: Watch For it",
            "s.yaml:32: title: triggers.watch: title \"Watch For it\": 'For' should be lowercase in the "
                + "middle of a title"
        ),
        (
            "type: object", "type: thing",
            "s.yaml:37: type-defined: triggers.watch.output.event: type 'thing' is neither a spec type nor "
                + "defined under types"
        ),
        (
            "required: true, example: x}", "required: yes please, example: x}",
            "s.yaml:27: required-boolean: actions.run_it.input.target: 'required' must be true or false, "
                + "found the string \"yes please\""
        ),
        ("example: 5}", "}", "s.yaml:35: example: triggers.watch.input.interval: no example"),
        (
            "title: Run It", "title: Run It\n    action_typo: 1",
            "s.yaml:25: allowed-keys: actions.run_it: unknown key 'action_typo' (allowed: action_type, "
                + "description, input, output, title)"
        ),
        (
            "description: Does good things", "description: Does good things \u{2014} fast",
            "s.yaml:6: ascii: non-ASCII character(s) U+2014; specs must be ASCII only"
        ),
    ])
    func reportsEachRuleWithItsLine(old: String, new: String, expected: String) {
        let problems = lint(replacing(old, with: new))
        #expect(problems.contains(expected), "\(problems)")
    }

    @Test func reportsMissingTopLevelKeys() {
        let problems = lint(replacing("vendor: rapid7\n", with: ""))
        #expect(problems.contains("s.yaml:1: required-keys: missing top-level key 'vendor'"))
    }

    @Test func aBrokenFileIsOneSyntaxProblemNotACrash() {
        #expect(
            lint("name: [unclosed\n") == [
                "s.yaml:2: syntax: column 1: not valid YAML: did not find expected ',' or ']' (while "
                    + "parsing a flow sequence started at line 1, column 7)"
            ])
        #expect(
            lint("") == [
                "s.yaml:1: syntax: column 1: expected a mapping of spec keys (name, version, actions, "
                    + "...), found nothing (null)"
            ])
    }
}

/// Running the linter over the 167 real specs: no crash, and the same findings as InsightConnect's validators
/// where they have the rule (counts measured with icon_validator 2.47.35; see docs/spec-validation.md).
@Suite(.enabled(if: Corpus.isPresent, "the corpus is not at \(Corpus.root); set RELAY_CORPUS"))
struct CorpusLintTests {
    @Test func findsWhatTheReferenceValidatorsFind() async throws {
        let (counts, flagged) = try await OffPool.run {
            var counts: [String: Int] = [:]
            var flagged: [String: Set<String>] = [:]
            for plugin in Corpus.plugins {
                let text = try String(contentsOfFile: Corpus.specPath(plugin), encoding: .utf8)
                for problem in SpecLinter().lint(yaml: text, file: plugin) {
                    counts[problem.rule.rawValue, default: 0] += 1
                    flagged[problem.rule.rawValue, default: []].insert(plugin)
                }
            }
            return (counts, flagged)
        }
        #expect(counts["syntax"] == nil, "a real spec failed to load")
        // Rules the reference validators have: same number of findings.
        #expect(counts["example"] == 745)
        #expect(flagged["example"]?.count == 57)
        #expect(counts["enable-cache"] == 29)
        #expect(counts["title"] == 16)
        #expect(flagged["title"]?.count == 8)
        #expect(counts["description"] == 2)
        #expect(flagged["description"] == ["opsgenie", "rapid7_intsights"])
        #expect(flagged["use-cases"] == ["newrelic"])
        for rule in [
            "required-keys", "spec-version", "required-boolean", "vendor", "support", "version", "tags",
            "name", "connection-password",
        ] {
            #expect(counts[rule] == nil, "\(rule): \(counts[rule] ?? 0)")
        }
        // Relay's own rules (the validators have none): raw ASCII scan, type references, unknown keys.
        #expect(flagged["ascii"] == ["carbon_black_protection", "rapid7_attackerkb", "servicenow"])
        #expect(counts["type-defined"] == 27)
        #expect(flagged["type-defined"]?.count == 6)
        #expect(counts["allowed-keys"] == 20)
        // No real spec repeats a key (checked with PyYAML's composer too); a fixture covers the rule.
        #expect(counts["duplicate-key"] == nil)
    }
}
