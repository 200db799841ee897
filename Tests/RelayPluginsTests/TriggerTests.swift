import Foundation
import RelayCore
import RelaySDK
import RelayTestSupport
import Testing

@testable import RelayPlugins

/// Collects what a trigger sends.
actor EventSink {
    var events: [JSONValue] = []
    func add(_ event: JSONValue) { events.append(event) }
    func count() -> Int { events.count }
}

@Suite struct TimerTriggerTests {
    @Test func theIntervalTriggerFiresAndItsCountSurvivesARestart() async throws {
        let host = PluginHost(plugin: try NativePlugins.timer())
        let state = TriggerState.inMemory()
        let sink = EventSink()
        let start = StepStart(step: .trigger("interval"), input: ["seconds": 1, "fire_immediately": true])
        let first = Task { await host.runTrigger(start, state: state) { await sink.add($0) } }
        #expect(await waitFor { await sink.count() >= 2 })
        first.cancel()
        _ = await first.value
        let sent = await sink.count()
        // A new run with the same state continues the count.
        let second = Task { await host.runTrigger(start, state: state) { await sink.add($0) } }
        #expect(await waitFor { await sink.count() >= sent + 1 })
        second.cancel()
        _ = await second.value
        let events = await sink.events
        #expect(events[0]["count"] == 1)
        #expect(events[sent]["count"] == .int(sent + 1))
        #expect(events[0]["time"]?.stringValue?.hasSuffix("Z") == true)
    }

    @Test func aBadCronExpressionEndsTheTriggerWithAClearError() async throws {
        let host = PluginHost(plugin: try NativePlugins.timer())
        let event = await host.runTrigger(
            StepStart(step: .trigger("cron"), input: ["expression": "every minute"]), state: .inMemory()
        ) { _ in }
        #expect(event.status == .error)
        #expect(event.exception?.cause.hasPrefix("cron expression \"every minute\": expected 5 fields") == true)
    }
}

@Suite struct WebhookTriggerTests {
    @Test func eachRequestBecomesAnEvent() async throws {
        let host = PluginHost(plugin: try NativePlugins.webhook())
        let inbox = WebhookInbox()
        let sink = EventSink()
        let trigger = Task {
            await host.runTrigger(
                StepStart(step: .trigger("webhook"), input: ["path": "alerts"]), state: .inMemory(), webhook: inbox
            ) {
                await sink.add($0)
            }
        }
        let accepted = await inbox.deliver(
            method: "POST", path: "/webhooks/alerts", headers: ["content-type": "application/json"],
            query: ["source": "siem"],
            body: #"{"alert": "disk full"}"#)
        #expect(accepted)
        let text = await inbox.deliver(
            method: "POST", path: "/webhooks/alerts", headers: [:], query: [:], body: "plain text")
        #expect(text)
        trigger.cancel()
        inbox.finish()
        _ = await trigger.value
        let events = await sink.events
        #expect(events.count == 2)
        #expect(events[0]["json"] == ["alert": "disk full"])
        #expect(events[0]["query"] == ["source": "siem"])
        #expect(events[1]["body"] == "plain text")
        #expect(events[1]["json"] == nil)
    }

    @Test func withoutAHostThatServesWebhooksItSaysSo() async throws {
        let host = PluginHost(plugin: try NativePlugins.webhook())
        let event = await host.runTrigger(
            StepStart(step: .trigger("webhook"), input: ["path": "x"]), state: .inMemory()
        ) { _ in }
        #expect(event.status == .error)
        #expect(event.exception?.cause == "This host serves no webhooks.")
    }
}

@Suite struct HelloPluginTests {
    let connection: JSONValue = ["greeting": "Hello", "api_key": ["secretKey": "9de5069c5afe602b2ea0a04b66beb2c0"]]

    @Test func greets() async throws {
        let event = await PluginHost(plugin: try NativePlugins.hello())
            .run(
                StepStart(step: .action("greet"), input: ["names": ["Ada", "Grace", "Linus"]], connection: connection))
        #expect(
            event.output == ["greeting": ["text": "Hello, Ada, Grace and Linus!", "names": ["Ada", "Grace", "Linus"]]])
    }

    @Test func aBlankGreetingIsAConnectionError() async throws {
        let event = await PluginHost(plugin: try NativePlugins.hello())
            .run(StepStart(step: .action("greet"), input: ["names": ["Ada"]], connection: ["greeting": " "]))
        #expect(event.exception?.cause == "The greeting is blank.")
    }

    @Test func pollsADirectoryAndRemembersWhatItSaw() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-hello-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "Ada".write(to: directory.appendingPathComponent("1"), atomically: true, encoding: .utf8)
        let host = PluginHost(plugin: try NativePlugins.hello())
        let state = TriggerState.inMemory()
        let sink = EventSink()
        let start = StepStart(
            step: .trigger("poll_greetings"), input: ["directory": .string(directory.path), "interval": 1],
            connection: connection)
        let first = Task { await host.runTrigger(start, state: state) { await sink.add($0) } }
        #expect(await waitFor { await sink.count() == 1 })
        first.cancel()
        _ = await first.value
        try "Grace".write(to: directory.appendingPathComponent("2"), atomically: true, encoding: .utf8)
        let second = Task { await host.runTrigger(start, state: state) { await sink.add($0) } }
        #expect(await waitFor { await sink.count() == 2 })
        // A poll goes through the files in name order: once a later file's event is out, a poll has passed the
        // earlier ones, so Ada or Grace sent again would be there before Linus.
        try "Linus".write(to: directory.appendingPathComponent("3"), atomically: true, encoding: .utf8)
        let linus = await waitFor {
            await sink.events.contains { $0["greeting"]?["text"]?.stringValue == "Hello, Linus!" }
        }
        #expect(linus, "the restarted trigger sends a new file")
        second.cancel()
        _ = await second.value
        let texts = await sink.events.compactMap { $0["greeting"]?["text"]?.stringValue }
        #expect(
            texts == ["Hello, Ada!", "Hello, Grace!", "Hello, Linus!"],
            "a restart must not send Ada again, and no poll sends a file twice")
    }
}
