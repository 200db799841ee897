import Foundation
import RelayCore

@testable import RelayImport

/// Builds small exports in the shape of the corpus's (`kom.workflowVersions[0]`, `kom.triggers[0]`), for tests
/// of one translation at a time.
struct ExportBuilder {
    var name = "Test Workflow"
    var triggerType = "trigger_api_idr"
    /// For `trigger_plugin`: the plugin, its trigger and input.
    var triggerPlugin: String?
    var triggerIdentifier: String?
    var triggerInput: JSONValue = nil
    var triggerNode = ExportBuilder.node(0)
    var steps: JSONObject = [:]
    var nodes: JSONObject = [:]
    var edges: JSONObject = [:]
    var variables: JSONObject = [:]
    private var edgeCount = 0

    /// A node id in the corpus's UUID form.
    static func node(_ number: Int) -> String {
        String(format: "00000000-0000-4000-8000-%012d", number)
    }

    init() {
        addNode(
            triggerNode,
            [
                "nodeId": .string(triggerNode), "name": "Alert", "type": "trigger", "continueOnFailure": false,
                "isDisabled": false, "connectionType": "NONE", "triggerId": "t1",
            ])
    }

    mutating func addNode(_ id: String, _ step: JSONObject, parent: String = "") {
        steps[id] = .object(step)
        nodes[id] = ["id": .string(id), "parentNodeId": .string(parent)]
    }

    mutating func action(
        _ number: Int, _ name: String, plugin: String = "example_without_spec", action: String = "get_content",
        input: JSONValue = [:], parent: String = "", continueOnFailure: Bool = false, disabled: Bool = false,
        connection: String = "ORCHESTRATOR"
    ) {
        let id = Self.node(number)
        addNode(
            id,
            [
                "nodeId": .string(id), "name": .string(name), "type": "action",
                "plugin": [
                    "name": .string(plugin), "slugVendor": "rapid7", "slugName": .string(plugin),
                    "slugVersion": "2.0.3",
                ],
                "identifier": .string(action), "continueOnFailure": .bool(continueOnFailure),
                "isDisabled": .bool(disabled),
                "parameters": ["input": input], "connectionType": .string(connection),
            ], parent: parent)
    }

    /// A step of another type; `extra` holds its keys beside `parameters` (`chatOpsAppName`, `globalArtifact` …).
    mutating func step(
        _ number: Int, _ name: String, type: String, parameters: JSONValue = [:], parent: String = "",
        extra: JSONObject = [:]
    ) {
        let id = Self.node(number)
        var object: JSONObject = [
            "nodeId": .string(id), "name": .string(name), "type": .string(type), "continueOnFailure": false,
            "isDisabled": false, "parameters": parameters, "connectionType": "NONE",
        ]
        for (key, value) in extra { object[key] = value }
        addNode(id, object, parent: parent)
    }

    /// A loop over `over` (a template) whose body starts at step `first` (its inner edge `inner-<number>`).
    mutating func loop(_ number: Int, _ name: String, over: String, first: Int) {
        let inner = "inner-\(number)"
        step(number, name, type: "loop", parameters: ["repeatVariable": .string(over), "innerEdgeId": .string(inner)])
        edges[inner] = [
            "id": .string(inner), "name": "", "parentNodeId": .string(Self.node(number)),
            "fromNodeId": .string(Self.node(number)), "toNodeId": .string(Self.node(first)),
        ]
    }

    /// An edge; returns its id.
    @discardableResult
    mutating func edge(_ from: String, _ to: String, name: String = "", parent: String = "") -> String {
        edgeCount += 1
        let id = String(format: "eeeeeeee-0000-4000-8000-%012d", edgeCount)
        edges[id] = [
            "id": .string(id), "name": .string(name), "description": "", "parentNodeId": .string(parent),
            "fromNodeId": .string(from), "toNodeId": .string(to),
        ]
        return id
    }

    var json: JSONValue {
        [
            "kom": [
                "komandVersion": "1.86.1", "komFileVersion": "2.0.0",
                "workflowVersions": [
                    [
                        "name": .string(name), "type": "runnable", "version": "", "description": "A test.",
                        "parameters": ["definitionSchema": ["type": "object", "properties": .object(variables)]],
                        "graph": ["nodes": .object(nodes), "edges": .object(edges)], "steps": .object(steps),
                    ]
                ],
                "triggers": [trigger],
            ]
        ]
    }

    var trigger: JSONValue {
        var object: JSONObject = ["id": "t1", "name": "Alert", "type": .string(triggerType), "input": triggerInput]
        if let triggerPlugin {
            object["plugin"] = [
                "name": .string(triggerPlugin), "slugVendor": "rapid7", "slugName": .string(triggerPlugin),
                "slugVersion": "2.0.4",
            ]
        }
        if let triggerIdentifier { object["identifier"] = .string(triggerIdentifier) }
        return .object(object)
    }

    /// Translates the export with the corpus's specs (or none).
    func translate(specs: String = CorpusPaths.specs) throws -> WorkflowTranslation {
        let export = try ICONExport.decode(json, file: "test.icon")
        return WorkflowTranslator(export: export, specs: SpecCatalog(directory: specs), name: "test-workflow")
            .translate()
    }
}

/// The corpora, read by path and never copied: `RELAY_CORPUS` (the InsightConnect corpus, with `specs/`) and
/// `RELAY_WORKFLOW_CORPUS` (the exports), by default beside the package root under `shared/corpus`.
enum CorpusPaths {
    static let shared: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")

    static var specs: String {
        if let path = ProcessInfo.processInfo.environment["RELAY_CORPUS"], !path.isEmpty { return path + "/specs" }
        return shared.appendingPathComponent("insightconnect/specs").path
    }

    static var workflows: String {
        if let path = ProcessInfo.processInfo.environment["RELAY_WORKFLOW_CORPUS"], !path.isEmpty { return path }
        return shared.appendingPathComponent("insightconnect-workflows/workflows").path
    }

    static var exports: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: workflows)) ?? []).filter { $0.hasSuffix(".icon") }
            .sorted().map { workflows + "/" + $0 }
    }

    static var isPresent: Bool {
        FileManager.default.fileExists(atPath: specs) && !exports.isEmpty
    }
}
