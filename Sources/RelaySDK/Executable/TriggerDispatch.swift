import Foundation
import RelayCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Runs a trigger as a standalone plugin process does: each event is POSTed as a `trigger_event` message to the
/// start message's `dispatcher.url` (printed on stdout when there is none), and state is kept in a file named
/// after `meta.triggerId` under `$RELAY_TRIGGER_STATE_DIR` (default: the temporary directory).
enum TriggerDispatch {
    static func run(host: PluginHost, start: StepStart) async -> StepEvent {
        let state = fileState(meta: start.meta)
        let url = start.dispatcherURL.flatMap { $0.isEmpty ? nil : URL(string: $0) }
        let meta = start.meta
        return await host.runTrigger(start, state: state) { event in
            let message = V1Message(kind: .triggerEvent, body: ["meta": meta, "output": event, "log": ""])
            let bytes = JSONWriter.compact.bytes(message.json)
            if let url {
                try await post(bytes, to: url)
            } else {
                FileHandle.standardOutput.write(Data(bytes + [0x0A]))
            }
        }
    }

    static func post(_ body: [UInt8], to url: URL) async throws {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body)
        let (_, response) = try await URLSession.shared.data(for: request)
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            throw RelayError(.transport, "POST \(url) answered HTTP \(http.statusCode)", isRetriable: true)
        }
    }

    static func fileState(meta: JSONValue) -> TriggerState {
        guard let triggerID = meta["triggerId"]?.stringValue ?? meta["trigger_id"]?.stringValue,
            !triggerID.isEmpty, !triggerID.contains("/")
        else { return .inMemory() }
        let directory = ProcessInfo.processInfo.environment["RELAY_TRIGGER_STATE_DIR"] ?? NSTemporaryDirectory()
        let path = (directory as NSString).appendingPathComponent("\(triggerID).json")
        return TriggerState(
            load: {
                guard let data = FileManager.default.contents(atPath: path) else { return nil }
                return try JSONParser.parse(bytes: Array(data))
            },
            save: { value in
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data(JSONWriter.compact.bytes(value)).write(to: URL(fileURLWithPath: path), options: .atomic)
            })
    }
}
