import RelayCore

/// Where each step of a run's graph is drawn: the web UI draws what Relay lays out, and computes nothing.
///
/// Layers by depth: a step's layer is the length of the longest path to it from a step that needs nothing (those
/// are layer 0), so every edge goes from a lower layer to a higher one. Within a layer, steps are ordered by the mean
/// position of the steps they need (the barycenter heuristic, one pass from the top), ties in the order the workflow
/// lists them: few crossings on the graphs workflows have, and the same answer for the same graph every time.
///
/// A `needs` entry that names no step of the graph is ignored. A graph with a cycle (workflows are validated
/// acyclic; this is a reader of stored data, so it does not trust that) still gets a layout: the steps on a cycle go
/// in the layer after the deepest of the others. Linear in steps and edges, plus the sorts; no recursion.
public struct RunGraphLayout: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var step: String
        /// 0 for the steps that need nothing.
        public var layer: Int
        /// 0-based, left to right within the layer.
        public var position: Int
    }

    /// In the order of the graph.
    public var nodes: [Node]
    /// How many layers there are (0 for an empty graph).
    public var layers: Int
    /// The most steps in one layer.
    public var width: Int

    public init(graph: [RunDetail.GraphStep]) {
        var index: [String: Int] = [:]
        for (position, step) in graph.enumerated() where index[step.step] == nil { index[step.step] = position }
        // Each step's needs as indices, known steps only, once each, and not itself.
        let needs: [[Int]] = graph.enumerated().map { position, step in
            var seen = Set<Int>()
            return step.needs.compactMap { index[$0] }.filter { $0 != position && seen.insert($0).inserted }
        }
        var dependents = [[Int]](repeating: [], count: graph.count)
        for (position, required) in needs.enumerated() { for need in required { dependents[need].append(position) } }

        // Kahn's algorithm: a step's layer is fixed once every step it needs has one.
        var layer = [Int?](repeating: nil, count: graph.count)
        var waiting = needs.map(\.count)
        var ready = graph.indices.filter { waiting[$0] == 0 }
        var next = 0
        while next < ready.count {
            let step = ready[next]
            next += 1
            let depth = needs[step].compactMap { layer[$0] }.max().map { $0 + 1 } ?? 0
            layer[step] = depth
            for dependent in dependents[step] {
                waiting[dependent] -= 1
                if waiting[dependent] == 0 { ready.append(dependent) }
            }
        }
        let deepest = layer.compactMap { $0 }.max() ?? -1
        let layerOf = layer.map { $0 ?? deepest + 1 }
        let count = layerOf.max().map { $0 + 1 } ?? 0

        // Positions, layer by layer from the top: by the mean position of the needed steps already placed.
        var position = [Int](repeating: 0, count: graph.count)
        var members = [[Int]](repeating: [], count: count)
        for step in graph.indices { members[layerOf[step]].append(step) }
        for depth in 0..<count {
            let keyed = members[depth].map { step -> (step: Int, key: Double) in
                let placed = needs[step].filter { layerOf[$0] < depth }.map { Double(position[$0]) }
                return (step, placed.isEmpty ? Double(step) : placed.reduce(0, +) / Double(placed.count))
            }
            let ordered = keyed.sorted { $0.key != $1.key ? $0.key < $1.key : $0.step < $1.step }
            for (place, entry) in ordered.enumerated() { position[entry.step] = place }
        }

        nodes = graph.indices.map { Node(step: graph[$0].step, layer: layerOf[$0], position: position[$0]) }
        layers = count
        width = members.map(\.count).max() ?? 0
    }

    /// `{"layers", "width", "nodes": [{"step", "layer", "position"}]}`.
    public var json: JSONValue {
        [
            "layers": .int(layers), "width": .int(width),
            "nodes": .array(
                nodes.map { ["step": .string($0.step), "layer": .int($0.layer), "position": .int($0.position)] }),
        ]
    }
}
