import Hummingbird
import RelayCore
import RelayStore

/// `GET /dead-letters`, `GET /dead-letters/{id}`, `POST /dead-letters/{id}/redrive`, `DELETE /dead-letters/{id}`,
/// `POST /events/replay`: the same as `relay dlq` and `relay events replay`.
extension OperatorAPI {
    /// The runs a redriven event starts, as the dispatcher will name them (`Dispatcher.runID`), for the workflows
    /// bound to its trigger instance now: `[{"workflow", "run_id"}]`; empty for a message that is not an event of
    /// `relay.events`, or one no workflow is bound to (it will be dead-lettered again). The dispatcher reads the
    /// workflows when the event comes, so a workflow changed in between is the one that counts.
    func runsStarted(by letter: DeadLetterRecord) -> [JSONValue] {
        guard letter.sourceTopic == Topics.events, let event = try? TriggerEvent(bytes: letter.value) else { return [] }
        return Dispatcher.workflows(for: event, in: registry).map { version in
            let name = version.workflow.name
            return ["workflow": .string(name), "run_id": .string(Dispatcher.runID(of: event, workflow: name))]
        }
    }

    func addDeadLetterRoutes(to api: RouterGroup<BasicRequestContext>) {
        let desk = DeadLetterDesk(store: store)
        api.route(.get, "/dead-letters") { request, _ -> Response in
            var limit = 100
            if let text = request.queryParameter("limit") {
                guard let value = Int(text), (1...DeadLetterLimits.maximumList).contains(value) else {
                    throw APIError(
                        .badRequest,
                        "limit: expected a number from 1 to \(DeadLetterLimits.maximumList), found "
                            + "\"\(text.prefix(64))\""
                    )
                }
                limit = value
            }
            let after = try request.queryParameter("after").map { try Self.deadLetterID($0, field: "after") }
            let letters = try await desk.list(limit: limit, after: after)
            return APIResponse.json([
                "dead_letters": .array(letters.map(\.json)),
                "next_after": letters.count == limit ? letters.last.map { .int(Int($0.id)) } ?? .null : .null,
            ])
        }
        api.route(.get, "/dead-letters/{id}") { _, context -> Response in
            let id = try Self.deadLetterID(try context.pathParameter("id"), field: "id")
            guard let letter = try await self.store.deadLetter(id: id) else {
                throw APIError(.notFound, "no dead letter \(id) (redriven or discarded, or never kept)")
            }
            var json = letter.json.objectValue ?? [:]
            json["headers"] = .object(
                JSONObject(
                    uniqueKeysWithValues: letter.headers.sorted { $0.key < $1.key }.map {
                        ($0.key, .string($0.value))
                    }))
            return APIResponse.json(.object(json))
        }
        api.route(.post, "/dead-letters/{id}/redrive") { request, context -> Response in
            _ = try await APIRequestBody.object(request, limit: self.configuration.bodyLimit)
            let id = try Self.deadLetterID(try context.pathParameter("id"), field: "id")
            let letter: DeadLetterRecord?
            do {
                letter = try await desk.redrive(id: id)
            } catch let error as RelayError where error.code == .invalidValue {
                throw APIError(.conflict, error.message)
            }
            guard let letter else {
                throw APIError(.notFound, "no dead letter \(id) (redriven or discarded, or never kept)")
            }
            return APIResponse.json(
                [
                    "redriven": .int(Int(letter.id)), "topic": .string(letter.sourceTopic),
                    "runs": .array(self.runsStarted(by: letter)),
                ], status: .accepted)
        }
        api.route(.delete, "/dead-letters/{id}") { _, context -> Response in
            let id = try Self.deadLetterID(try context.pathParameter("id"), field: "id")
            guard try await desk.discard(id: id) else {
                throw APIError(.notFound, "no dead letter \(id) (redriven or discarded, or never kept)")
            }
            return APIResponse.json(["discarded": .int(Int(id))])
        }
        api.route(.post, "/events/replay") { request, _ -> Response in
            let body = try await APIRequestBody.object(request, limit: self.configuration.bodyLimit)
            let instance: String
            let workflow = try body.apiString("workflow")
            switch (workflow, try body.apiString("instance")) {
            case (let name?, nil):
                guard let version = self.registry.named(name) else {
                    throw APIError(.notFound, "no workflow named \"\(name)\" is loaded")
                }
                guard let binding = version.workflow.trigger else {
                    throw APIError(
                        .badRequest, "workflow \(name) has no trigger: its runs start by hand or as sub-workflows")
                }
                instance = binding.instanceID
            case (nil, let id?):
                instance = id
            default:
                throw APIError(.badRequest, "body: expected exactly one of workflow and instance")
            }
            let since = try APITime.parse(try body.apiRequiredString("since"), field: "body.since")
            let until = try body.apiString("until").map { try APITime.parse($0, field: "body.until") } ?? RunTime.now()
            let ids: [String]
            do {
                ids = try await EventReplay(store: self.store, transport: self.transport).replay(
                    instance: instance, since: since, until: until, workflow: workflow)
            } catch let error as RelayError where error.code == .invalidValue {
                throw APIError(.badRequest, error.message)
            }
            return APIResponse.json(
                [
                    "instance": .string(instance), "published": .int(ids.count),
                    "event_ids": .array(ids.map(JSONValue.string)),
                ],
                status: .accepted)
        }
    }

    static func deadLetterID(_ text: String, field: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else {
            throw APIError(
                .badRequest, "\(field): expected a dead letter's id (a positive integer), found \"\(text.prefix(64))\"")
        }
        return id
    }
}
