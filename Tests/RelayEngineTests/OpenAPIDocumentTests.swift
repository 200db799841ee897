import Foundation
import RelayCore
import RelayStore
import RelayTestSupport
import RelayTransport
import Testing

@testable import RelayEngine

/// The checked-in OpenAPI document (`Sources/RelayEngine/API/openapi.json`) is equal to what the server does: it is
/// well formed, it lists exactly the routes the API registers, each of them is served, and its enums are the code's.
/// (scripts/api-contract checks the responses against its schemas with schemathesis, against a live `relay up`.)
@Suite struct OpenAPIDocumentTests {
    static let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    static func document() throws -> JSONValue { try #require(OpenAPIDocument.json, "openapi.json does not parse") }

    /// The value at a local reference (`#/components/schemas/Error`), or nil.
    static func resolve(_ reference: String, in document: JSONValue) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var value: JSONValue? = document
        for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let array = value?.arrayValue {
                value = Int(key).flatMap { array.indices.contains($0) ? array[$0] : nil }
            } else {
                value = value?[key]
            }
        }
        return value
    }

    /// `value`, or what it refers to when it is a reference.
    static func dereferenced(_ value: JSONValue, in document: JSONValue) -> JSONValue {
        guard let reference = value["$ref"]?.stringValue else { return value }
        return resolve(reference, in: document) ?? .null
    }

    /// Every `$ref` in `value`, with where it is.
    static func references(in value: JSONValue, at place: String = "#") -> [(place: String, reference: String)] {
        switch value {
        case .object(let object):
            return object.flatMap { key, child -> [(place: String, reference: String)] in
                if key == "$ref", let reference = child.stringValue { return [(place, reference)] }
                return references(in: child, at: place + "/" + key)
            }
        case .array(let array):
            return array.enumerated().flatMap { references(in: $1, at: place + "/\($0)") }
        default:
            return []
        }
    }

    /// Every operation of the document: `GET /runs/{id}` and the operation object.
    static func operations(_ document: JSONValue) -> [(method: String, path: String, operation: JSONValue)] {
        guard let paths = document["paths"]?.objectValue else { return [] }
        return paths.flatMap { path, item in
            methods.compactMap { method in item[method].map { (method.uppercased(), path, $0) } }
        }
    }

    static func strings(_ value: JSONValue?) -> [String] { value?.arrayValue?.compactMap(\.stringValue) ?? [] }

    /// Where `value` does not match `schema` (the subset of JSON Schema the document uses: `$ref`, `type` (a name or
    /// a list), `enum`, `const`, `minimum`, `maximum`, `required`, `properties`, `additionalProperties`, `items`,
    /// `oneOf`); empty when it does.
    static func problems(
        _ value: JSONValue, _ schema: JSONValue, in document: JSONValue, at place: String = "$"
    ) -> [String] {
        let schema = dereferenced(schema, in: document)
        if let type = schema["type"] {
            let allowed = type.stringValue.map { [$0] } ?? strings(type)
            let matches = allowed.contains { name in
                switch (name, value) {
                case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array),
                    ("object", .object), ("integer", .int), ("integer", .bigInt), ("number", .int),
                    ("number", .bigInt), ("number", .double):
                    true
                default: false
                }
            }
            if !matches { return ["\(place): expected \(allowed.joined(separator: " or ")), found \(value.typeName)"] }
        }
        var found: [String] = []
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            found.append("\(place): \(value) is not one of \(options)")
        }
        if let constant = schema["const"], constant != value { found.append("\(place): expected \(constant)") }
        if let number = value.doubleValue {
            if let minimum = schema["minimum"]?.doubleValue, number < minimum {
                found.append("\(place): below minimum")
            }
            if let maximum = schema["maximum"]?.doubleValue, number > maximum {
                found.append("\(place): above maximum")
            }
        }
        if let object = value.objectValue {
            for name in strings(schema["required"]) where object[name] == nil {
                found.append("\(place): lacks \(name)")
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, child) in object {
                if let property = properties[key] {
                    found += problems(child, property, in: document, at: "\(place).\(key)")
                } else if schema["additionalProperties"] == .bool(false) {
                    found.append("\(place): has \(key), which the schema does not allow")
                } else if let additional = schema["additionalProperties"], additional.objectValue != nil {
                    found += problems(child, additional, in: document, at: "\(place).\(key)")
                }
            }
        }
        if let items = value.arrayValue, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() {
                found += problems(item, itemSchema, in: document, at: "\(place)[\(index)]")
            }
        }
        if let options = schema["oneOf"]?.arrayValue {
            let matching = options.filter { problems(value, $0, in: document, at: place).isEmpty }.count
            if matching != 1 { found.append("\(place): matches \(matching) of oneOf's \(options.count) schemas") }
        }
        return found
    }

    /// The schema of the `status` answer of `method path`.
    static func responseSchema(_ document: JSONValue, _ method: String, _ path: String, _ status: Int) -> JSONValue? {
        guard let response = document["paths"]?[path]?[method.lowercased()]?["responses"]?["\(status)"] else {
            return nil
        }
        return dereferenced(response, in: document)["content"]?["application/json"]?["schema"]
    }

    @Test func theDocumentIsOpenAPI31AndEveryReferenceResolves() throws {
        let document = try Self.document()
        #expect(document["openapi"]?.stringValue?.hasPrefix("3.1") == true)
        #expect(document["servers"]?.arrayValue?.first?["url"]?.stringValue == OperatorAPI.prefix)
        #expect(document["components"]?["securitySchemes"]?["bearerAuth"]?["scheme"] == "bearer")
        #expect(document["security"]?.arrayValue?.first?["bearerAuth"] != nil, "bearerAuth applies to every operation")
        let references = Self.references(in: document)
        #expect(references.count > 50)
        for (place, reference) in references {
            #expect(Self.resolve(reference, in: document) != nil, "\(place): \(reference) does not resolve")
        }
        #expect(Self.resolve("#/components/schemas/Nothing", in: document) == nil)
        // The text as served is the file as checked in.
        #expect(OpenAPIDocument.text?.contains("\"openapi\": \"3.1.0\"") == true)

        for (method, path, operation) in Self.operations(document) {
            // Every {parameter} of the path is a required path parameter, and nothing else is.
            let parameters = (operation["parameters"]?.arrayValue ?? []).map { Self.dereferenced($0, in: document) }
            let declared = parameters.filter { $0["in"] == "path" }
            #expect(declared.allSatisfy { $0["required"] == .bool(true) }, "\(method) \(path)")
            let inPath = path.split(separator: "/").filter { $0.hasPrefix("{") }.map {
                String($0.dropFirst().dropLast())
            }
            #expect(Set(declared.compactMap { $0["name"]?.stringValue }) == Set(inPath), "\(method) \(path)")
            // Every operation says what 401 is, and its errors are the Error schema.
            let responses = operation["responses"]?.objectValue ?? [:]
            #expect(responses["401"] != nil, "\(method) \(path)")
            for (status, response) in responses where !status.hasPrefix("2") {
                let schema = Self.dereferenced(response, in: document)["content"]?["application/json"]?["schema"]
                #expect(schema?["$ref"] == "#/components/schemas/Error", "\(method) \(path) \(status)")
            }
            #expect(operation["operationId"]?.stringValue != nil, "\(method) \(path)")
        }
    }

    @Test func theDocumentsEnumsAreTheCodes() throws {
        let schemas = try #require(try Self.document()["components"]?["schemas"])
        #expect(
            Self.strings(schemas["Error"]?["properties"]?["error"]?["properties"]?["code"]?["enum"])
                == APIError.Code.allCases.map(\.rawValue))
        #expect(Self.strings(schemas["RunStatus"]?["enum"]) == RunStatus.allCases.map(\.rawValue))
        #expect(Self.strings(schemas["StepStatus"]?["enum"]) == StepStatus.allCases.map(\.rawValue))
        #expect(Self.strings(schemas["ItemStatus"]?["enum"]) == ItemStatus.allCases.map(\.rawValue))
        #expect(
            Self.strings(schemas["Change"]?["properties"]?["kind"]?["enum"]) == RunChange.Kind.allCases.map(\.rawValue))
        #expect(
            Self.strings(schemas["Artifact"]?["properties"]?["format"]?["enum"])
                == RunArtifact.Format.allCases.map(\.rawValue))
        let parameters = try Self.document()["paths"]?["/runs"]?["get"]?["parameters"]?.arrayValue ?? []
        let limit = try #require(parameters.first { $0["name"] == "limit" }?["schema"])
        #expect(limit["maximum"] == .int(RunQuery.largestPage))
        let letters = try Self.document()["paths"]?["/dead-letters"]?["get"]?["parameters"]?.arrayValue ?? []
        #expect(letters.first { $0["name"] == "limit" }?["schema"]?["maximum"] == .int(DeadLetterLimits.maximumList))
    }

    @Test func theDocumentListsExactlyTheRoutesTheServerRegisters() throws {
        let documented = Self.operations(try Self.document()).map { "\($0.method) \($0.path)" }
        let registered = OperatorAPI.routes.map { "\($0.method) \($0.path)" }
        #expect(Set(registered).count == registered.count, "a route is listed twice: \(registered)")
        #expect(Set(documented) == Set(registered))
        #expect(Set(documented).subtracting(registered).isEmpty, "documented, not registered")
        #expect(Set(registered).subtracting(documented).isEmpty, "registered, not documented")
    }

    /// Each documented route, with path parameters that name nothing, is answered by its route (never the API's
    /// catch-all "no route" 404), with a status the document gives for it.
    @Test func everyDocumentedRouteIsServed() async throws {
        let document = try Self.document()
        let operations = Self.operations(document)
        try #require(operations.count == OperatorAPI.routes.count)
        try await OperatorAPITests.withHarness { api in
            // The check tells the catch-all apart.
            let unknown = try await api.json("GET", "/nothing/here")
            #expect(unknown.0 == 404 && unknown.1["error"]?["message"]?.stringValue?.hasPrefix("no route") == true)

            for (method, template, operation) in operations {
                let parameters = (operation["parameters"]?.arrayValue ?? []).map {
                    Self.dereferenced($0, in: document)
                }
                var path = template
                for parameter in parameters where parameter["in"] == "path" {
                    let name = try #require(parameter["name"]?.stringValue)
                    let value = parameter["schema"]?["type"] == "integer" ? "987654321" : "nothing-\(name)"
                    path = path.replacingOccurrences(of: "{\(name)}", with: value)
                }
                let responses = operation["responses"]?.objectValue ?? [:]
                if responses["200"]?["content"]?["text/event-stream"] != nil {
                    let (status, _) = try await TestHTTP.events(
                        port: api.port, path: OperatorAPI.prefix + path,
                        headers: ["Authorization": "Bearer \(OperatorAPITests.token)"], seconds: 30
                    ) { _ in true }
                    #expect(status.hasPrefix("HTTP/1.1 200"), "\(method) \(path): \(status)")
                    continue
                }
                let reply = try await api.send(method, path, json: method == "POST" ? "{}" : nil)
                let message = (try? JSONParser.parse(reply.text))?["error"]?["message"]?.stringValue ?? ""
                #expect(
                    !(reply.status == 404 && message.hasPrefix("no route")),
                    "\(method) \(path) is not served: \(message)")
                #expect(responses["\(reply.status)"] != nil, "\(method) \(path): \(reply.status) is not documented")
            }

            // The document served is the one shipped.
            let served = try await api.json("GET", "/openapi.json")
            #expect(served.0 == 200 && served.1 == document)
        }
    }

    @Test func theValidatorTellsWhatDoesNotMatch() throws {
        let document = try Self.document()
        let error = JSONValue.object(["$ref": "#/components/schemas/Error"])
        #expect(Self.problems(["error": ["code": "conflict", "message": "m"]], error, in: document).isEmpty)
        #expect(Self.problems(["error": ["code": "nope", "message": "m"]], error, in: document).count == 1)
        #expect(Self.problems(["error": ["code": "conflict"]], error, in: document) == ["$.error: lacks message"])
        #expect(Self.problems(["error": ["code": "conflict", "message": 1]], error, in: document).count == 1)
        #expect(Self.problems(["error": ["code": "conflict", "message": "m", "x": 1]], error, in: document).count == 1)
    }

    /// What schemathesis cannot reach from outside (dead letters, which only a message no consumer reads makes, and
    /// the stream's events, which it does not read) matches the document too.
    @Test func deadLettersAndStreamEventsMatchTheirSchemas() async throws {
        let document = try Self.document()
        try await OperatorAPITests.withHarness { api in
            func check(
                _ method: String, _ path: String, _ template: String, _ json: String? = nil, status: Int
            ) async throws -> JSONValue {
                let (got, body) = try await api.json(method, path, json)
                #expect(got == status, "\(method) \(path): \(body)")
                let schema = try #require(Self.responseSchema(document, method, template, got), "\(method) \(path)")
                let problems = Self.problems(body, schema, in: document)
                #expect(problems.isEmpty, "\(method) \(path): \(problems) in \(body)")
                return body
            }
            try await api.pipeline.bus.publish([
                BusMessage(topic: "relay.events", key: "k", value: Array("not json".utf8), headers: ["h": "v"])
            ])
            var id = 0
            #expect(
                try await waitFor {
                    id =
                        try await api.json("GET", "/dead-letters").1["dead_letters"]?.arrayValue?.first?["id"]?.intValue
                        ?? 0
                    return id > 0
                })
            _ = try await check("GET", "/dead-letters", "/dead-letters", status: 200)
            let letter = try await check("GET", "/dead-letters/\(id)", "/dead-letters/{id}", status: 200)
            #expect(letter["headers"]?["h"] == "v", "\(letter)")
            _ = try await check("POST", "/dead-letters/\(id)/redrive", "/dead-letters/{id}/redrive", status: 202)
            var again = 0
            #expect(
                try await waitFor {
                    again =
                        try await api.json("GET", "/dead-letters").1["dead_letters"]?.arrayValue?.first?["id"]?.intValue
                        ?? 0
                    return again > 0
                })
            _ = try await check("DELETE", "/dead-letters/\(again)", "/dead-letters/{id}", status: 200)
            _ = try await check("GET", "/dead-letters/\(again)", "/dead-letters/{id}", status: 404)

            let started = try await check(
                "POST", "/workflows/echo/runs", "/workflows/{name}/runs", #"{"n": 1}"#, status: 202)
            let runID = try #require(started["run_id"]?.stringValue)
            _ = try await api.wait(runID, for: "succeeded")
            _ = try await check("GET", "/runs/\(runID)", "/runs/{id}", status: 200)
            // Every change from the first on.
            let (_, events) = try await TestHTTP.events(
                port: api.port, path: "/api/v1/stream?last_event_id=0",
                headers: ["Authorization": "Bearer \(OperatorAPITests.token)"]
            ) { events in events.contains { $0.event == "run" && $0.data.contains("\"succeeded\"") } }
            #expect(events.count >= 3, "\(events)")
            let change = JSONValue.object(["$ref": "#/components/schemas/Change"])
            for event in events {
                let data = try JSONParser.parse(event.data)
                #expect(Self.problems(data, change, in: document).isEmpty, "\(event)")
                #expect(data["kind"]?.stringValue == event.event)
            }
        }
    }
}
