import Foundation
import RelayCore
import RelaySDK
import RelayTestSupport
import Testing

@testable import RelayPlugins

@Suite struct CronScheduleTests {
    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    func next(_ expression: String, after: String) throws -> String? {
        try CronSchedule(expression).next(after: date(after)).map { ISO8601DateFormatter().string(from: $0) }
    }

    @Test func findsTheNextMatchingMinute() throws {
        #expect(try next("*/5 * * * *", after: "2026-11-29T12:03:10Z") == "2026-11-29T12:05:00Z")
        #expect(try next("0 * * * *", after: "2026-11-29T12:00:00Z") == "2026-11-29T13:00:00Z")
        #expect(try next("30 2 * * *", after: "2026-11-29T12:00:00Z") == "2026-11-30T02:30:00Z")
        // Saturday → Monday.
        #expect(try next("0 9 * * mon-fri", after: "2026-11-28T10:00:00Z") == "2026-11-30T09:00:00Z")
        #expect(try next("0 0 1 jan *", after: "2026-11-29T00:00:00Z") == "2027-01-01T00:00:00Z")
        #expect(try next("@daily", after: "2026-11-29T23:59:00Z") == "2026-11-30T00:00:00Z")
        #expect(try next("0 0 29 2 *", after: "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z")
        // Both day fields restricted: either matches (the 1st, or a Sunday).
        #expect(try next("0 0 1 * 0", after: "2026-11-29T01:00:00Z") == "2026-12-01T00:00:00Z")
    }

    @Test(arguments: [
        ("* * * *", #"cron expression "* * * *": expected 5 fields (minute hour day month weekday), found 4"#),
        ("61 * * * *", #"cron expression "61 * * * *": minute field "61": 61 is outside 0-59"#),
        ("* * * foo *", #"cron expression "* * * foo *": month field "foo": "foo" is not a number or a name"#),
        ("*/0 * * * *", #"cron expression "*/0 * * * *": minute field "*/0": the step must be a positive number"#),
        ("5-1 * * * *", #"cron expression "5-1 * * * *": minute field "5-1": range 5-1 runs backwards"#),
    ])
    func rejectsBadExpressionsClearly(expression: String, message: String) {
        #expect(throws: RelayError.self) { try CronSchedule(expression) }
        do { _ = try CronSchedule(expression) } catch { #expect(error.message == message) }
    }
}

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
