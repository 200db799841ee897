import RelayCore
import RelaySpec
import Testing

@testable import RelayEngine

/// The registry's lookups by trigger instance and by name follow the current set through a reload.
@Suite struct WorkflowRegistryTests {
    static func workflow(_ name: String, path: String) throws -> Workflow {
        try WorkflowDecoder.decode(
            yaml: """
                name: \(name)
                trigger: {plugin: webhook, trigger: webhook, input: {path: \(path)}}
                steps:
                  - {id: a, plugin: base64, action: encode, input: {content: x}}
                """, file: "\(name).yaml")
    }

    @Test func anInstanceGivesItsWorkflowsInOrderAndAReloadMovesThem() throws {
        let first = try Self.workflow("first", path: "shared")
        let second = try Self.workflow("second", path: "shared")
        let other = try Self.workflow("other", path: "other")
        let shared = try #require(first.trigger?.instanceID)
        let alone = try #require(other.trigger?.instanceID)
        #expect(second.trigger?.instanceID == shared && alone != shared)

        let registry = WorkflowRegistry([first, other, second])
        #expect(registry.bound(to: shared).map(\.workflow.name) == ["first", "second"])
        #expect(registry.bound(to: alone).map(\.workflow.name) == ["other"])
        #expect(registry.bound(to: "webhook.webhook#none").isEmpty)
        #expect(registry.named("second")?.workflow == second && registry.named("missing") == nil)

        // Reloaded: "second" now listens on the other path, "first" is gone.
        let moved = try Self.workflow("second", path: "other")
        registry.replace(with: [other, moved])
        #expect(registry.bound(to: shared).isEmpty)
        #expect(registry.bound(to: alone).map(\.workflow.name) == ["other", "second"])
        #expect(registry.named("first") == nil && registry.named("second")?.workflow == moved)
    }
}
