import Foundation
import RelayCore
import RelaySDK
import RelaySpec

/// A project directory, loaded: workflows, connections, plugins.
public struct Project: Sendable {
    public var layout: ProjectLayout
    public var workflows: [Workflow]
    public var connections: ConnectionStore
    public var catalog: PluginCatalog

    /// Loads and checks everything; any problem is an error listing all of them.
    public static func load(directory: String, native: [String: Plugin]) throws -> Project {
        let layout = ProjectLayout(root: directory)
        var catalog = PluginCatalog(native: native)
        try catalog.registerExternal(in: layout.plugins)
        let key = try MasterKey.load(defaultFile: layout.masterKey)
        let connections = try ConnectionStore(directory: layout.connections, catalog: catalog, key: key)
        var workflows: [Workflow] = []
        var problems: [String] = []
        for path in layout.workflowFiles() {
            let loaded: Result<Workflow, RelayError> = Result { () throws(RelayError) -> Workflow in
                try WorkflowDecoder.load(path: path)
            }
            switch loaded {
            case .success(let workflow):
                if workflows.contains(where: { $0.name == workflow.name }) {
                    problems.append("\(path): name: another workflow is already named \"\(workflow.name)\"")
                }
                problems += WorkflowValidator(catalog: catalog, connections: connections).problems(workflow)
                workflows.append(workflow)
            case .failure(let error):
                problems.append(error.message)
            }
        }
        problems += WorkflowValidator.problems(in: workflows)
        guard problems.isEmpty else {
            throw RelayError(.invalidSpec, problems.joined(separator: "\n"))
        }
        return Project(layout: layout, workflows: workflows, connections: connections, catalog: catalog)
    }
}
