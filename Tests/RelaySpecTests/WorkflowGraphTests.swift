import RelayCore
import RelaySpec
import Testing

/// `needs`: how a workflow's steps form a graph, and what validation refuses in it.
@Suite struct WorkflowGraphTests {
    static let head = "name: g\ntrigger: {plugin: p, trigger: t}\nsteps:\n"

    static func decode(_ steps: String) throws -> Workflow {
        try WorkflowDecoder.decode(yaml: head + steps, file: "w.yaml")
    }

    @Test func aStepWithoutNeedsNeedsTheStepBeforeItAndEmptyNeedsStartWithTheRun() throws {
        let workflow = try Self.decode(
            """
              - {id: a, plugin: p, action: x}
              - {id: b, plugin: p, action: x, needs: [a]}
              - {id: c, plugin: p, action: x, needs: [a]}
              - {id: d, plugin: p, action: x, needs: [b, c], input: {v: "{{ steps.b.output }} {{ steps.a.status }}"}}
              - {id: e, plugin: p, action: x}
              - {id: f, plugin: p, action: x, needs: []}
            """)
        #expect(workflow.steps.map(\.needs) == [nil, ["a"], ["a"], ["b", "c"], nil, []])
        #expect(workflow.steps.indices.map { workflow.needs(at: $0) } == [[], ["a"], ["a"], ["b", "c"], ["d"], []])
        // needsHaveEnded (the dispatcher's readiness check, without the list) agrees with needs(at:) for every
        // step and every set of ended steps.
        let ids = workflow.steps.map(\.id)
        for mask in 0..<(1 << ids.count) {
            let ended = Set(ids.indices.filter { mask & (1 << $0) != 0 }.map { ids[$0] })
            for index in ids.indices {
                #expect(
                    workflow.needsHaveEnded(at: index, ended.contains)
                        == workflow.needs(at: index).allSatisfy(ended.contains), "\(ids[index]) after \(ended)")
            }
        }
        #expect(workflow.cycle() == nil)
        #expect(workflow.ancestors()["d"] == ["a", "b", "c"])
        #expect(workflow.ancestors()["e"] == ["a", "b", "c", "d"])
        #expect(workflow.ancestors()["f"] == [])
    }

    @Test func needsMayNameAStepListedLater() throws {
        let workflow = try Self.decode(
            """
              - {id: report, plugin: p, action: x, needs: [lookup], input: {v: "{{ steps.lookup.output }}"}}
              - {id: lookup, plugin: p, action: x, needs: []}
            """)
        #expect(workflow.needs(at: 0) == ["lookup"])
    }

    @Test(arguments: [
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, needs: [a, nope]}\n",
            "w.yaml:5: steps[1].needs: unknown step \"nope\"; the steps are a, b"
        ),
        (
            "  - {id: a, plugin: p, action: x, needs: [a]}\n",
            "w.yaml:4: steps[0].needs: a step cannot need itself (\"a\")"
        ),
        (
            "  - {id: a, plugin: p, action: x, needs: [c]}\n  - {id: b, plugin: p, action: x}\n"
                + "  - {id: c, plugin: p, action: x}\n",
            "w.yaml:4: steps[0].needs: the needs form a cycle: a → b → c → a"
        ),
        (
            "  - {id: a, plugin: p, action: x, needs: []}\n  - {id: b, plugin: p, action: x, needs: [a, d]}\n"
                + "  - {id: c, plugin: p, action: x, needs: [b]}\n  - {id: d, plugin: p, action: x, needs: [c]}\n",
            "w.yaml:5: steps[1].needs: the needs form a cycle: b → c → d → b"
        ),
        (
            "  - {id: a, plugin: p, action: x, needs: a}\n",
            "w.yaml:4: steps[0].needs: expected a list of step ids such as [a, b], found the string \"a\""
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, needs: [a, a]}\n",
            "w.yaml:5: steps[1].needs: \"a\" is listed twice"
        ),
        (
            // b and c are parallel branches: c cannot read b, although b is listed before it.
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, needs: [a]}\n"
                + "  - {id: c, plugin: p, action: x, needs: [a], input: {v: \"{{ steps.b.output.v }}\"}}\n",
            "w.yaml:6: steps[2].input: steps.b.output.v: step \"b\" does not come before this step; a step may use "
                + "the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, plugin: p, action: x}\n  - {id: b, plugin: p, action: x, needs: [a]}\n"
                + "  - {id: c, plugin: p, action: x, needs: [a], when: steps.b.status == \"failed\"}\n",
            "w.yaml:6: steps[2].when: steps.b.status: step \"b\" does not come before this step; a condition may use "
                + "the steps before it in the graph (its needs, and theirs)"
        ),
        (
            "  - {id: a, plugin: p, action: x, when: steps.ghost.status == \"failed\"}\n",
            "w.yaml:4: steps[0].when: steps.ghost.status: unknown step \"ghost\"; a condition may use the steps "
                + "before it"
        ),
    ])
    func theGraphIsValidatedWithFileLineAndKey(steps: String, message: String) {
        do {
            _ = try Self.decode(steps)
            Issue.record("expected: \(message)")
        } catch let error as RelayError {
            #expect(error.message == message)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
