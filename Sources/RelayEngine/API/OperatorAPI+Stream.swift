import Foundation
import HTTPTypes
import Hummingbird
import RelayCore
import RelayStore
import ServiceLifecycle
import Synchronization

/// `GET /stream`: server-sent events of run and step changes, from the run store's change log, in commit order.
///
/// Each event: `id:` the change's sequence number, `event:` `run`, `step` or `item`, `data:` the change as JSON
/// (`RunChange.json`). Without `Last-Event-ID` the stream starts at the present; with it (the header, as browsers
/// send it when they reconnect, or `?last_event_id=`), after that change. When that change is no longer kept (the
/// log is pruned by age), the first event is `reset`: the client reloads what it shows, then follows the stream.
/// `?run=ID` follows one run, `?workflow=NAME` one workflow. A comment line is sent while nothing happens, so that
/// proxies keep the connection; the stream ends when the client goes, its token is revoked (`event: revoked`) or
/// the server shuts down. At most `maximumStreams` are open at once (503 beyond).
extension OperatorAPI {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    func addStreamRoute(to api: RouterGroup<BasicRequestContext>) {
        api.route(.get, "/stream") { request, _ -> Response in
            let runID = request.queryParameter("run")
            let workflow = request.queryParameter("workflow")
            let presented = request.headers[Self.lastEventID] ?? request.queryParameter("last_event_id")
            var after: Int64?
            if let presented {
                guard let value = Int64(presented), value >= 0 else {
                    throw APIError(
                        .badRequest,
                        "Last-Event-ID: expected the id of an event of this stream (a number), found "
                            + "\"\(presented.prefix(64))\"")
                }
                after = value
            }
            // Bounded: each stream polls the store (one connection shared with the dispatcher).
            guard self.streams.enter(limit: self.configuration.maximumStreams) else {
                throw APIError(
                    .unavailable,
                    "\(self.configuration.maximumStreams) streams are open, the most this server serves; "
                        + "close one or try again later")
            }
            let sequences: (latest: Int64, oldest: Int64)
            do {
                sequences = try await self.store.changeSequences()
            } catch {
                self.streams.leave()
                throw error
            }
            // The client cannot catch up from the log: the changes after its id were pruned, or its id is from
            // another log (a run store replaced since).
            let lost = after.map { $0 > sequences.latest || $0 < sequences.oldest - 1 } ?? false
            let start = lost ? sequences.latest : (after ?? sequences.latest)
            let presentedID = after ?? 0
            let token = APIAuthMiddleware<BasicRequestContext>.bearerToken(request) ?? ""
            let (store, verify, streams) = (self.store, self.verifyToken, self.streams)
            let (poll, heartbeat) = (self.configuration.streamPollInterval, self.configuration.streamHeartbeat)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    defer { streams.leave() }
                    var position = start
                    if lost {
                        try await writer.write(
                            ByteBuffer(
                                string: "id: \(sequences.latest)\nevent: reset\ndata: "
                                    + "{\"reason\":\"the changes after event \(presentedID) are not in the log\"}\n\n"))
                    }
                    try await writer.write(ByteBuffer(string: "retry: 1000\n: relay stream from \(position)\n\n"))
                    var quiet = ContinuousClock.now
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        // A token revoked while the stream is open ends it.
                        guard verify(token) else {
                            try await writer.write(ByteBuffer(string: "event: revoked\ndata: {}\n\n"))
                            break
                        }
                        // Read first: every change up to it is committed, so a page shorter than the limit has
                        // seen all of them, and the position moves past changes of other runs without a rescan.
                        let latest = try await store.changeSequences().latest
                        let changes = try await store.changes(after: position, runID: runID, limit: 500)
                        if changes.count < 500 { position = max(position, latest) }
                        guard let last = changes.last else {
                            if ContinuousClock.now - quiet > heartbeat {
                                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                                quiet = ContinuousClock.now
                            }
                            try await Task.sleep(for: poll)
                            continue
                        }
                        var text = ""
                        for change in changes where workflow == nil || change.workflow == workflow {
                            text += "id: \(change.sequence)\nevent: \(change.kind.rawValue)\n"
                            text += "data: \(JSONWriter.compact.string(change.json))\n\n"
                        }
                        if !text.isEmpty {
                            try await writer.write(ByteBuffer(string: text))
                            quiet = ContinuousClock.now
                        }
                        position = max(position, last.sequence)
                    }
                    try await writer.finish(nil)
                })
        }
    }
}

/// How many event streams are open: each polls the run store, so there is a most.
final class StreamCounter: Sendable {
    private let open = Mutex(0)

    func enter(limit: Int) -> Bool {
        open.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { open.withLock { $0 -= 1 } }
}
