import Foundation
import RelayCore
import RelaySpec
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// A job message keeps the job it was written from (`BusMessage.local`), and a worker of the same process takes
/// that instead of reading the bytes: the two must be the same job, whatever the input holds.
@Suite struct KeptJobTests {
    @Test(arguments: [
        ["text": "plain"] as JSONValue,
        ["n": 1, "f": 1.0, "g": 1.5e-7, "big": 12_345_678_901_234, "neg": -0.0, "t": true, "z": nil],
        ["unicode": "ä\u{0}\u{1F600}\"\\\n", "nested": ["a": [1, [2, ["b": "c"]]], "empty": [:], "list": []]],
    ])
    func aKeptJobIsTheJobItsBytesRead(trigger: JSONValue) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-kept-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = try EmbeddedBus(database: try SQLiteDatabase(path: directory.appendingPathComponent("b.sqlite").path))
        let workflow = try WorkflowDecoder.decode(
            yaml: """
                name: kept
                \(PipelineTests.manual)steps:
                  - id: a
                    plugin: ptest
                    action: echo
                    input: {value: "{{ trigger }}", word: "w{{ trigger }}"}
                    timeout: 7s
                    connection: main
                  - {id: b, plugin: ptest, action: echo, input: "{{ trigger.nothing }}"}
                """, file: "kept.yaml")
        let dispatcher = Dispatcher(
            bus: bus, store: try SQLRunStore(bus: bus), workflows: WorkflowRegistry([workflow]))
        // (Step b's input renders to null, and its bytes read back as null.)
        for (step, item) in [(0, nil), (0, 3), (1, nil)] as [(Int, Int?)] {
            let job = try dispatcher.job(
                runID: "run-1", workflow: workflow, step: workflow.steps[step], attempt: 2,
                scope: Template.Scope(trigger: step == 0 ? trigger : ["nothing": nil]), item: item)
            let kept = try #require(job.message.local as? Worker.ReceivedJob)
            let read = try Worker.job(job.message.value).get()
            #expect(kept == read)
            #expect(try Worker.job(job.message).get() == read)
            #expect(read.route.item == item && read.action == "echo")
            #expect(read.route.timeoutMilliseconds == (step == 0 ? 7000 : 60000))
            if step == 1 { #expect(job.input == .null && read.start.input == .null) }
        }
    }
}
