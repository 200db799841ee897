import Testing

@testable import RelayCore

/// Each message that travels between the pipeline's stages: encode → decode gives it back, and every missing
/// field is named in the decoding error.
@Suite struct MessageCodecTests {
    static let event = TriggerEvent(
        id: "e-1", instance: "webhook.webhook.0f3a", plugin: "webhook", trigger: "webhook",
        output: ["json": ["n": 1]], time: 1_764_800_000.25)

    static let route = JobRoute(
        jobID: "run-1/lookup/2", runID: "run-1", stepID: "lookup", attempt: 2, workflow: "triage",
        timeoutMilliseconds: 30_000, connection: "vt", startedAt: 1_764_800_001.5)

    @Test func triggerEventRoundTrips() throws {
        #expect(try TriggerEvent(json: Self.event.json) == Self.event)
        let bytes = JSONWriter.compact.bytes(Self.event.json)
        #expect(try TriggerEvent(bytes: bytes) == Self.event)
        // The optional fields may be absent; output defaults to {}.
        let minimal = TriggerEvent(id: "e-2", instance: "i")
        #expect(try TriggerEvent(json: ["eventId": "e-2", "instance": "i"]) == minimal)
        #expect(try TriggerEvent(json: minimal.json) == minimal)
    }

    /// What the worker hands a dispatcher of its process as values is what the dispatcher reads from the message
    /// those values write: whatever a plugin put in its event beyond what the envelope carries for its status.
    @Test(arguments: [
        StepEvent(status: .error, output: ["kept": 1], log: "l"),
        StepEvent(status: .ok, output: ["n": 1], error: "not for an ok event"),
        StepEvent(status: .ok),
        StepEvent(status: .error),
        StepEvent(
            status: .error, error: "boom", exception: StepException(cause: "c", assistance: "a", data: ["d": [1]]),
            meta: ["jobId": "j"], state: ["page": 2], hasMorePages: true, statusCode: 500),
    ])
    func anEventAsSentIsWhatItsBodyReadsBack(_ event: StepEvent) throws {
        var event = event
        event.errorKind = .plugin
        let read = try StepEvent(
            body: try #require(JSONParser.parse(bytes: JSONWriter.compact.bytes(.object(event.body))).objectValue))
        #expect(event.asSent == read)
        #expect(event.asSent.errorKind == nil)
    }

    @Test(arguments: ["eventId", "instance"])
    func triggerEventNamesAMissingField(_ field: String) throws {
        var json = try #require(Self.event.json.objectValue)
        json[field] = nil
        let error = #expect(throws: MessageDecodingError.self) { try TriggerEvent(json: .object(json)) }
        #expect(error?.field == field)
        #expect(error?.description == "trigger event: \(field): expected a string, found nothing")
    }

    @Test func triggerEventSaysWhatItFound() {
        let wrongType = #expect(throws: MessageDecodingError.self) {
            try TriggerEvent(json: ["eventId": 7, "instance": "i"])
        }
        #expect(wrongType?.description == "trigger event: eventId: expected a string, found 7")
        let notObject = #expect(throws: MessageDecodingError.self) { try TriggerEvent(json: [1, 2]) }
        #expect(notObject?.description == "trigger event: expected a JSON object, found [1,2]")
        let notJSON = #expect(throws: MessageDecodingError.self) { try TriggerEvent(bytes: Array("{\"half\":".utf8)) }
        #expect(notJSON?.expected == "JSON")
        #expect(notJSON?.found.hasSuffix("in \"{\"half\":\"") == true)
    }

    /// A start message without `input` or `connection` has an empty object for each; a null one stays null (an
    /// input that rendered to null reaches the plugin as null, as the job kept in the process has it).
    @Test func aMissingInputIsEmptyAndANullOneStaysNull() throws {
        let missing = try StepStart(message: V1Message(kind: .actionStart, body: ["action": "lookup", "meta": [:]]))
        #expect(missing.input == [:] && missing.connection == [:])
        let null = try StepStart(
            message: V1Message(
                kind: .actionStart, body: ["action": "lookup", "input": nil, "connection": nil, "meta": [:]]))
        #expect(null.input == .null && null.connection == .null)
        let given = try StepStart(
            message: V1Message(kind: .actionStart, body: ["action": "a", "input": ["x": 1], "connection": ["k": "v"]]))
        #expect(given.input == ["x": 1] && given.connection == ["k": "v"])
    }

    @Test func jobRouteRoundTrips() throws {
        #expect(try JobRoute(meta: Self.route.meta) == Self.route)
        var bare = Self.route
        bare.connection = nil
        bare.startedAt = nil
        #expect(try JobRoute(meta: bare.meta) == bare)
        #expect(bare.meta.objectValue?.keys.contains("connection") == false)
        #expect(JobRoute.jobID(runID: "r", stepID: "s", attempt: 3) == "r/s/3")
    }

    @Test(arguments: ["jobId", "runId", "stepId", "attempt", "workflow", "timeoutMs"])
    func jobRouteNamesAMissingField(_ field: String) throws {
        var meta = try #require(Self.route.meta.objectValue)
        meta[field] = nil
        let error = #expect(throws: MessageDecodingError.self) { try JobRoute(meta: .object(meta)) }
        #expect(error?.message == "job route")
        #expect(error?.field == "meta." + field)
        #expect(error?.found == "nothing")
    }

    @Test func jobRouteRejectsWrongValues() throws {
        var meta = try #require(Self.route.meta.objectValue)
        meta["attempt"] = "two"
        let attempt = #expect(throws: MessageDecodingError.self) { try JobRoute(meta: .object(meta)) }
        #expect(
            attempt?.description == #"job route: meta.attempt: expected an integer from 0 to 2147483647, found "two""#)
        meta["attempt"] = 1
        meta["startedAt"] = "now"
        let started = #expect(throws: MessageDecodingError.self) { try JobRoute(meta: .object(meta)) }
        #expect(started?.field == "meta.startedAt")
        let notObject = #expect(throws: MessageDecodingError.self) { try JobRoute(meta: .null) }
        #expect(notObject?.description == "job route: meta: expected a JSON object, found null")
    }

    @Test func runNoticeRoundTrips() throws {
        for status in RunStatus.allCases {
            let notice = RunNotice(runID: "run-1", workflow: "triage", status: status)
            #expect(try RunNotice(json: notice.json) == notice)
            #expect(try RunNotice(bytes: JSONWriter.compact.bytes(notice.json)) == notice)
        }
    }

    @Test(arguments: ["runId", "workflow", "status"])
    func runNoticeNamesAMissingField(_ field: String) throws {
        var json = try #require(RunNotice(runID: "r", workflow: "w", status: .failed).json.objectValue)
        json[field] = nil
        let error = #expect(throws: MessageDecodingError.self) { try RunNotice(json: .object(json)) }
        #expect(error?.description == "run notice: \(field): expected a string, found nothing")
    }

    @Test func runNoticeRejectsAnUnknownStatus() {
        let error = #expect(throws: MessageDecodingError.self) {
            try RunNotice(json: ["runId": "r", "workflow": "w", "status": "paused"])
        }
        #expect(
            error?.description
                == #"run notice: status: expected one of running, succeeded, failed, cancelled, found "paused""#)
    }

    @Test func deadLetterRoundTrips() throws {
        let letter = DeadLetter(
            reason: "not an event: …", sourceTopic: "relay.events", offset: 42, key: "k", value: Array("x".utf8),
            originalHeaders: ["trace": "t-1"])
        #expect(letter.headers["relay.dlq.offset"] == "42")
        #expect(try DeadLetter(key: "k", value: Array("x".utf8), headers: letter.headers) == letter)
    }

    @Test(arguments: ["relay.dlq.reason", "relay.dlq.topic", "relay.dlq.offset"])
    func deadLetterNamesAMissingHeader(_ header: String) throws {
        var headers = DeadLetter(reason: "r", sourceTopic: "t", offset: 1, key: "k", value: []).headers
        headers[header] = nil
        let error = #expect(throws: MessageDecodingError.self) { try DeadLetter(key: "k", value: [], headers: headers) }
        #expect(error?.description == "dead letter: header \(header): expected a header, found nothing")
    }

    @Test func deadLetterRejectsAnOffsetThatIsNotOne() {
        let headers = ["relay.dlq.reason": "r", "relay.dlq.topic": "t", "relay.dlq.offset": "forty"]
        let error = #expect(throws: MessageDecodingError.self) { try DeadLetter(key: "k", value: [], headers: headers) }
        #expect(
            error?.description
                == #"dead letter: header relay.dlq.offset: expected an offset (an integer), found "forty""#)
    }

    @Test func stepStatusFollowsTheResult() {
        #expect(StepStatus(StepEvent.Status.ok) == .succeeded)
        #expect(StepStatus(StepEvent.Status.error) == .failed)
        #expect(StepStatus.allCases.filter { !$0.isFinished } == [.running])
        #expect(RunStatus.allCases.filter { !$0.isFinished } == [.running])
    }
}
