/// The steps of a workflow as a graph: each step needs the steps of its `needs`, or, without `needs`, the step
/// listed before it. Readiness (which steps may start) is the dispatcher's; this is the shape it reads, and what
/// validation checks (unknown needs, cycles, templates that reach outside the steps before them).
extension Workflow {
    /// The ids of the steps the step at `index` needs: its `needs` as written, or the step listed before it (none
    /// for the first step).
    public func needs(at index: Int) -> [String] {
        if let needs = steps[index].needs { return needs }
        return index > 0 ? [steps[index - 1].id] : []
    }

    /// Whether every step the step at `index` needs has `ended` (as `needs(at:)` lists them), without making that
    /// list.
    public func needsHaveEnded(at index: Int, _ ended: (String) -> Bool) -> Bool {
        if let needs = steps[index].needs { return needs.allSatisfy(ended) }
        return index == 0 || ended(steps[index - 1].id)
    }

    /// Each step's needs, by step id.
    public var graph: [String: [String]] {
        var graph: [String: [String]] = [:]
        for index in steps.indices { graph[steps[index].id] = needs(at: index) }
        return graph
    }

    /// A cycle of needs, as the ids in the order they would have to run, the first repeated at the end
    /// (`["a", "b", "c", "a"]`: b needs a, c needs b, a needs c), starting at the first listed step on it; nil when
    /// the graph has none. Needs naming unknown steps are ignored. Iterative, so no workflow can exhaust the stack.
    public func cycle() -> [String]? {
        let graph = self.graph
        // 0: not visited, 1: on the current path, 2: done.
        var state: [String: Int] = [:]
        for start in steps.map(\.id) where state[start, default: 0] == 0 {
            // The path from `start`, each entry a step and how many of its needs have been followed.
            var path: [(id: String, next: Int)] = [(start, 0)]
            state[start] = 1
            while let top = path.last {
                let needs = graph[top.id] ?? []
                guard top.next < needs.count else {
                    state[top.id] = 2
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let need = needs[top.next]
                guard graph[need] != nil else { continue }
                switch state[need, default: 0] {
                case 0:
                    state[need] = 1
                    path.append((need, 0))
                case 1:
                    // `need` is on the path: the cycle is the path from it, read backwards (in running order).
                    let from = path.lastIndex { $0.id == need } ?? 0
                    var members = path[from...].map(\.id).reversed().map { $0 }
                    let first = steps.firstIndex { members.contains($0.id) }.map { steps[$0].id } ?? need
                    let rotation = members.firstIndex(of: first) ?? 0
                    members = Array(members[rotation...] + members[..<rotation])
                    return members + [members[0]]
                default: continue
                }
            }
        }
        return nil
    }

    /// For each step, every step before it in the graph: its needs, their needs, and so on. Only meaningful for a
    /// graph without cycles (a step on a cycle is left with the part of its ancestry that could be computed).
    public func ancestors() -> [String: Set<String>] {
        let graph = self.graph
        var ancestors: [String: Set<String>] = [:]
        // In an order where every step comes after its needs (Kahn's algorithm).
        var waiting = graph.mapValues { Set($0.filter { graph[$0] != nil }).count }
        var dependents: [String: [String]] = [:]
        for (id, needs) in graph {
            for need in Set(needs) where graph[need] != nil { dependents[need, default: []].append(id) }
        }
        var ready = steps.map(\.id).filter { waiting[$0] == 0 }
        while let id = ready.popLast() {
            var own = Set<String>()
            for need in graph[id] ?? [] where graph[need] != nil {
                own.insert(need)
                own.formUnion(ancestors[need] ?? [])
            }
            ancestors[id] = own
            for dependent in dependents[id] ?? [] {
                waiting[dependent, default: 0] -= 1
                if waiting[dependent] == 0 { ready.append(dependent) }
            }
        }
        return ancestors
    }
}
