import RelayCore
import RelayStore
import Testing

/// Where the web UI draws each step of a run's graph: layers by longest depth, positions by the needed steps.
@Suite struct RunGraphLayoutTests {
    typealias Step = RunDetail.GraphStep

    static func places(_ graph: [Step]) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: RunGraphLayout(graph: graph).nodes.map { ($0.step, [$0.layer, $0.position]) })
    }

    @Test func aStepsLayerIsTheLongestPathToItFromARoot() {
        // a → b → c, and a → c directly: c is below b, not beside it.
        let graph: [Step] = [
            .init(step: "a", needs: []), .init(step: "b", needs: ["a"]), .init(step: "c", needs: ["a", "b"]),
        ]
        let layout = RunGraphLayout(graph: graph)
        #expect(Self.places(graph) == ["a": [0, 0], "b": [1, 0], "c": [2, 0]])
        #expect(layout.layers == 3 && layout.width == 1)
        #expect(layout.nodes.map(\.step) == ["a", "b", "c"], "in the graph's order")
    }

    @Test func stepsOfALayerAreOrderedByTheStepsTheyNeed() {
        // Two roots; the second root's child is listed first, yet is drawn under it (no crossing).
        let graph: [Step] = [
            .init(step: "left", needs: []), .init(step: "right", needs: []),
            .init(step: "under-right", needs: ["right"]), .init(step: "under-left", needs: ["left"]),
            .init(step: "join", needs: ["under-left", "under-right"]),
        ]
        #expect(
            Self.places(graph) == [
                "left": [0, 0], "right": [0, 1], "under-left": [1, 0], "under-right": [1, 1], "join": [2, 0],
            ])
        let layout = RunGraphLayout(graph: graph)
        #expect(layout.layers == 3 && layout.width == 2)
        #expect(
            layout.json["nodes"]?.arrayValue?.first == ["step": "left", "layer": 0, "position": 0]
                && layout.json["layers"] == 3 && layout.json["width"] == 2)
    }

    @Test func unknownNeedsAreIgnoredAndACycleStillGetsALayout() {
        let graph: [Step] = [
            .init(step: "a", needs: ["ghost", "a"]), .init(step: "x", needs: ["a", "y"]),
            .init(step: "y", needs: ["x"]),
        ]
        #expect(Self.places(graph) == ["a": [0, 0], "x": [1, 0], "y": [1, 1]])
        #expect(RunGraphLayout(graph: []).layers == 0 && RunGraphLayout(graph: []).nodes.isEmpty)
    }

    @Test func theRunsJSONCarriesTheLayoutWithItsGraph() {
        var run = RunDetail(
            summary: RunSummary(id: "r", workflow: "w", status: .running, startedAt: 0), triggerEvent: [:], steps: [])
        #expect(run.json["layout"] == nil, "no graph, no layout")
        run.graph = [.init(step: "a", needs: []), .init(step: "b", needs: ["a"])]
        #expect(run.json["layout"]?["nodes"]?.arrayValue?.last == ["step": "b", "layer": 1, "position": 0])
    }
}
