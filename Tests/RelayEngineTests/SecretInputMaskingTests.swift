import Foundation
import RelayCore
import RelayEngine
import RelayPlugins
import RelaySpec
import RelayStore
import Testing

/// A run as the API and `relay runs show` give it: the inputs an action's spec declares secret are masked wherever
/// they appear in the attempt.
@Suite struct SecretInputMaskingTests {
    @Test func inputsTheSpecDeclaresSecretAreMaskedInTheAttemptAndItsItems() throws {
        var catalog = PluginCatalog(native: try NativePlugins.all())
        // base64's encode as if its `content` were a password (as `credential_secret_key` or `password` inputs are).
        var entry = try #require(catalog["base64"])
        entry.schemas = [
            "actions": [
                "encode": [
                    "input": [
                        "type": "object",
                        "properties": ["content": ["$ref": "#/definitions/secret"]],
                        "definitions": ["secret": ["type": "string", "format": "password"]],
                    ]
                ]
            ]
        ]
        catalog.entries["base64"] = entry
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: w
                steps:
                  - {id: secret, plugin: base64, action: encode, input: {content: hunter22}}
                  - id: each
                    plugin: base64
                    action: encode
                    for_each: "{{ trigger.items }}"
                    input: {content: "{{ item }}"}
                  - {id: plain, plugin: base64, action: decode, input: {content: aHVudGVyMjI=}}
                """, file: "w.yaml")
        var run = RunDetail(
            summary: RunSummary(id: "r", workflow: "w", status: .succeeded, startedAt: 1),
            triggerEvent: [:],
            steps: [
                StepAttempt(
                    stepID: "secret", attempt: 1, status: .failed, input: ["content": "hunter22"],
                    output: ["data": "was hunter22"], error: "bad hunter22", scheduledAt: 1),
                StepAttempt(
                    stepID: "plain", attempt: 1, status: .succeeded, input: ["content": "aHVudGVyMjI="],
                    output: ["data": "hunter22"], scheduledAt: 1),
            ],
            items: [
                ItemAttempt(
                    stepID: "each", index: 0, attempt: 1, status: .succeeded, input: ["content": "sesame-1"],
                    output: ["data": "sesame-1!"], scheduledAt: 1)
            ])
        run.steps[0].log = "using hunter22\n"
        run.maskSecretInputs(workflow: workflow, catalog: catalog)
        #expect(run.steps[0].input == ["content": "********"])
        #expect(run.steps[0].output == ["data": "was ********"])
        #expect(run.steps[0].error == "bad ********")
        #expect(run.steps[0].log == "using ********\n")
        #expect(run.items[0].input == ["content": "********"] && run.items[0].output == ["data": "********!"])
        // decode's input is not secret: its attempt is as it was, though its output equals the other's secret.
        #expect(run.steps[1].input == ["content": "aHVudGVyMjI="] && run.steps[1].output == ["data": "hunter22"])
    }
}
