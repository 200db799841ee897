import Foundation
import Hummingbird
import RelayCore
import RelayStore

/// `GET /runs`, `GET /runs/{id}`, `POST /runs/{id}/cancel|resume`, `POST /runs/{id}/steps/{step}/answer`,
/// `GET /runs/{id}/artifacts[/{name}]`.
extension OperatorAPI {
    func addRunRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.route(.get, "/runs") { request, _ -> Response in
            let query = try Self.runQuery(request)
            let page = try await self.store.runs(matching: query)
            return APIResponse.json([
                "runs": .array(page.runs.map(\.json)),
                "next_cursor": page.nextCursor.map { .string($0.text) } ?? .null,
            ])
        }
        api.route(.get, "/runs/{id}") { _, context -> Response in
            APIResponse.json(try await self.run(context).json)
        }
        api.route(.post, "/runs/{id}/cancel") { request, context -> Response in
            let body = try await APIRequestBody.object(request, limit: self.configuration.bodyLimit)
            let run = try await self.run(context)
            let reason = try body.apiString("reason")
            return try await self.request(
                RunControl(command: .cancel, runID: run.summary.id, reason: reason), of: run,
                problem: RunControlCheck.cancel(run))
        }
        api.route(.post, "/runs/{id}/resume") { request, context -> Response in
            _ = try await APIRequestBody.object(request, limit: self.configuration.bodyLimit)
            let run = try await self.run(context)
            return try await self.request(
                RunControl(command: .resume, runID: run.summary.id), of: run, problem: RunControlCheck.resume(run))
        }
        api.route(.post, "/runs/{id}/steps/{step}/answer") { request, context -> Response in
            let body = try await APIRequestBody.object(request, limit: self.configuration.bodyLimit)
            let option = try body.apiRequiredString("option")
            let by = try body.apiString("by")
            let step = try context.pathParameter("step")
            let run = try await self.run(context)
            return try await self.request(
                RunControl.answer(runID: run.summary.id, stepID: step, option: option, by: by), of: run,
                problem: RunControlCheck.answer(run, step: step, option: option))
        }
        api.route(.get, "/runs/{id}/artifacts") { _, context -> Response in
            let id = try context.pathParameter("id")
            guard try await self.store.run(id: id) != nil else { throw APIError(.notFound, "no run \(id)") }
            return APIResponse.json(["artifacts": .array(try await self.store.artifacts(runID: id).map(\.json))])
        }
        api.route(.get, "/runs/{id}/artifacts/{name}") { _, context -> Response in
            let id = try context.pathParameter("id")
            let name = try context.pathParameter("name")
            guard try await self.store.run(id: id) != nil else { throw APIError(.notFound, "no run \(id)") }
            // The latest of that name (a loop may make several).
            guard let artifact = try await self.store.artifacts(runID: id).last(where: { $0.name == name }) else {
                throw APIError(.notFound, "run \(id) has no artifact named \"\(name)\"")
            }
            return APIResponse.json(artifact.json)
        }
    }

    /// The run of the path's `{id}`, with its graph; 404 when there is none.
    func run(_ context: BasicRequestContext) async throws -> RunDetail {
        let id = try context.pathParameter("id")
        guard let run = try await store.runWithGraph(id: id, workflowsDirectory: layout.workflows, catalog: catalog)
        else {
            throw APIError(.notFound, "no run \(id)")
        }
        return run
    }

    /// Publishes `control` on `relay.control` unless `problem` says it does not apply (409, or 400 for a wrong
    /// option); 202 once the request is durable.
    func request(_ control: RunControl, of run: RunDetail, problem: RunControlCheck.Problem?) async throws -> Response {
        if let problem {
            switch problem.kind {
            case .conflict:
                throw APIError(.conflict, "run \(run.summary.id) is \(run.summary.status.rawValue): \(problem.message)")
            case .invalid:
                throw APIError(.badRequest, problem.message)
            }
        }
        try await transport.publish([control.message])
        return APIResponse.json(
            [
                "run_id": .string(run.summary.id), "requested": .string(control.command.rawValue),
                "status": .string(run.summary.status.rawValue),
            ], status: .accepted)
    }

    /// The filters of `GET /runs` from the query string; 400 naming a parameter that is wrong.
    static func runQuery(_ request: Request) throws -> RunQuery {
        var query = RunQuery()
        query.workflow = request.queryParameter("workflow")
        if let status = request.queryParameter("status") {
            guard let value = RunStatus(rawValue: status) else {
                throw APIError(
                    .badRequest,
                    "status: expected one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")), found "
                        + "\"\(status.prefix(64))\"")
            }
            query.status = value
        }
        query.since = try request.queryParameter("since").map { try APITime.parse($0, field: "since") }
        query.until = try request.queryParameter("until").map { try APITime.parse($0, field: "until") }
        if let parent = request.queryParameter("parent") {
            if parent == "none" { query.topLevelOnly = true } else { query.parent = parent }
        }
        if let limit = request.queryParameter("limit") {
            guard let value = Int(limit), (1...RunQuery.largestPage).contains(value) else {
                throw APIError(
                    .badRequest,
                    "limit: expected a number from 1 to \(RunQuery.largestPage), found \"\(limit.prefix(64))\"")
            }
            query.limit = value
        }
        if let cursor = request.queryParameter("cursor") {
            guard let value = RunCursor(text: cursor) else {
                throw APIError(
                    .badRequest, "cursor: expected the next_cursor of an earlier page, found \"\(cursor.prefix(64))\"")
            }
            query.cursor = value
        }
        return query
    }
}
