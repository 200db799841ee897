import Foundation
import OrderedCollections
import RelayCore

extension ICONExport {
    /// Reads an export file. Anything that is not an export this importer understands is an error naming the file
    /// and where in it (`x.icon: kom.workflowVersions[0].steps.<id>.type: expected a string, found integer`).
    public static func load(path: String) throws(RelayError) -> ICONExport {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? Int else {
            throw RelayError(.notFound, "\(path): no such file")
        }
        guard size <= ImportLimits.maximumFileBytes else {
            throw RelayError(
                .invalidJSON,
                "\(path): \(size) bytes, more than an export may have (\(ImportLimits.maximumFileBytes) bytes)")
        }
        // Read up to one byte past the limit: a file that grows, or a device or pipe whose size says 0, cannot make
        // the read unbounded.
        guard let handle = FileHandle(forReadingAtPath: path),
            let data = try? handle.read(upToCount: ImportLimits.maximumFileBytes + 1)
        else {
            throw RelayError(.io, "\(path): cannot be read")
        }
        try? handle.close()
        guard data.count <= ImportLimits.maximumFileBytes else {
            throw RelayError(
                .invalidJSON, "\(path): more than an export may have (\(ImportLimits.maximumFileBytes) bytes)")
        }
        return try decode(bytes: Array(data), file: path)
    }

    /// Parses and decodes an export's text (JSON within `JSONLimits`).
    public static func decode(bytes: [UInt8], file: String) throws(RelayError) -> ICONExport {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes: bytes)
        } catch {
            throw RelayError(.invalidJSON, "\(file): not an InsightConnect export: \(error.description)")
        }
        return try decode(json, file: file)
    }

    /// Decodes an export from its JSON.
    public static func decode(_ json: JSONValue, file: String) throws(RelayError) -> ICONExport {
        let reader = ExportReader(file: file)
        let kom = try reader.object(json["kom"], "kom")
        let versions = try reader.array(kom["workflowVersions"], "kom.workflowVersions")
        guard let first = versions.first else {
            throw reader.fail("kom.workflowVersions", "expected one workflow version, found none")
        }
        let triggers = try reader.array(kom["triggers"], "kom.triggers")
        guard let triggerJSON = triggers.first else {
            throw reader.fail("kom.triggers", "expected the workflow's trigger, found none")
        }
        let workflow = try decodeWorkflow(first, reader: reader, path: "kom.workflowVersions[0]")
        let trigger = try decodeTrigger(triggerJSON, reader: reader, path: "kom.triggers[0]")
        return ICONExport(
            file: file, komandVersion: try reader.optionalString(kom["komandVersion"], "kom.komandVersion"),
            workflow: workflow, trigger: trigger)
    }

    static func decodeWorkflow(_ json: JSONValue, reader: ExportReader, path: String) throws(RelayError)
        -> ICONWorkflow
    {
        let object = try reader.object(json, path)
        let name = try reader.string(object["name"], "\(path).name")
        let description = try reader.optionalString(object["description"], "\(path).description") ?? ""
        var variables: [ICONVariable] = []
        if let parameters = object["parameters"], !parameters.isNull {
            let parametersObject = try reader.object(parameters, "\(path).parameters")
            if let schema = parametersObject["definitionSchema"], !schema.isNull {
                let schemaPath = "\(path).parameters.definitionSchema"
                let properties = try reader.object(schema["properties"] ?? [:], "\(schemaPath).properties")
                for (variable, definition) in properties {
                    let place = "\(schemaPath).properties[\(JSONWriter.compact.string(.string(variable)))]"
                    let definitionObject = try reader.object(definition, place)
                    variables.append(
                        ICONVariable(
                            name: variable, type: try reader.optionalString(definitionObject["type"], "\(place).type"),
                            description: try reader.optionalString(
                                definitionObject["description"], "\(place).description")))
                }
            }
        }
        let graph = try reader.object(object["graph"], "\(path).graph")
        let nodes = try reader.object(graph["nodes"], "\(path).graph.nodes")
        guard nodes.count <= ImportLimits.maximumNodes else {
            throw reader.fail("\(path).graph.nodes", "\(nodes.count) nodes, more than \(ImportLimits.maximumNodes)")
        }
        var parents: [String: String] = [:]
        for (id, node) in nodes {
            let place = "\(path).graph.nodes.\(id)"
            let nodeObject = try reader.object(node, place)
            parents[id] = try reader.optionalString(nodeObject["parentNodeId"], "\(place).parentNodeId") ?? ""
        }
        let edgesJSON = try reader.object(graph["edges"] ?? [:], "\(path).graph.edges")
        guard edgesJSON.count <= ImportLimits.maximumEdges else {
            throw reader.fail("\(path).graph.edges", "\(edgesJSON.count) edges, more than \(ImportLimits.maximumEdges)")
        }
        var edges = OrderedDictionary<String, ICONEdge>()
        for (id, edge) in edgesJSON {
            let place = "\(path).graph.edges.\(id)"
            let edgeObject = try reader.object(edge, place)
            edges[id] = ICONEdge(
                id: id, name: try reader.optionalString(edgeObject["name"], "\(place).name") ?? "",
                from: try reader.string(edgeObject["fromNodeId"], "\(place).fromNodeId"),
                to: try reader.optionalString(edgeObject["toNodeId"], "\(place).toNodeId") ?? "",
                parent: try reader.optionalString(edgeObject["parentNodeId"], "\(place).parentNodeId") ?? "")
        }
        let stepsJSON = try reader.object(object["steps"], "\(path).steps")
        guard stepsJSON.count <= ImportLimits.maximumNodes else {
            throw reader.fail("\(path).steps", "\(stepsJSON.count) steps, more than \(ImportLimits.maximumNodes)")
        }
        var steps = OrderedDictionary<String, ICONStep>()
        for (id, step) in stepsJSON {
            steps[id] = try decodeStep(step, id: id, reader: reader, path: "\(path).steps.\(id)")
            if parents[id] == nil { parents[id] = "" }
        }
        return ICONWorkflow(
            name: name, description: description, variables: variables, parents: parents, edges: edges, steps: steps)
    }

    static func decodeStep(_ json: JSONValue, id: String, reader: ExportReader, path: String) throws(RelayError)
        -> ICONStep
    {
        let object = try reader.object(json, path)
        var plugin: ICONPluginReference?
        if let pluginJSON = object["plugin"], !pluginJSON.isNull {
            plugin = try decodePlugin(pluginJSON, reader: reader, path: "\(path).plugin")
        }
        let parameters = object["parameters"] ?? [:]
        guard parameters.isNull || parameters.objectValue != nil else {
            throw reader.fail("\(path).parameters", "expected an object, found \(parameters.typeName)")
        }
        return ICONStep(
            nodeID: try reader.optionalString(object["nodeId"], "\(path).nodeId") ?? id,
            name: try reader.optionalString(object["name"], "\(path).name") ?? id,
            type: ICONStepType(try reader.string(object["type"], "\(path).type")),
            plugin: plugin,
            identifier: try reader.optionalString(object["identifier"], "\(path).identifier"),
            continueOnFailure: try reader.bool(object["continueOnFailure"], "\(path).continueOnFailure"),
            isDisabled: try reader.bool(object["isDisabled"], "\(path).isDisabled"),
            connectionType: try reader.optionalString(object["connectionType"], "\(path).connectionType") ?? "NONE",
            parameters: parameters.isNull ? [:] : parameters,
            outputSchema: object["outputJSONSchema"].flatMap { $0.objectValue != nil ? $0 : nil },
            chatOpsAppName: try reader.optionalString(object["chatOpsAppName"], "\(path).chatOpsAppName"),
            chatOpsIdentifier: try reader.optionalString(object["chatOpsIdentifier"], "\(path).chatOpsIdentifier"),
            helperIdentifier: try reader.optionalString(object["helperIdentifier"], "\(path).helperIdentifier"),
            globalArtifact: object["globalArtifact"].flatMap { $0.objectValue != nil ? $0 : nil })
    }

    static func decodeTrigger(_ json: JSONValue, reader: ExportReader, path: String) throws(RelayError)
        -> ICONTrigger
    {
        let object = try reader.object(json, path)
        var plugin: ICONPluginReference?
        if let pluginJSON = object["plugin"], !pluginJSON.isNull {
            plugin = try decodePlugin(pluginJSON, reader: reader, path: "\(path).plugin")
        }
        let input = object["input"] ?? [:]
        guard input.isNull || input.objectValue != nil else {
            throw reader.fail("\(path).input", "expected an object, found \(input.typeName)")
        }
        return ICONTrigger(
            id: try reader.optionalString(object["id"], "\(path).id") ?? "",
            name: try reader.optionalString(object["name"], "\(path).name") ?? "",
            type: try reader.string(object["type"], "\(path).type"),
            identifier: try reader.optionalString(object["identifier"], "\(path).identifier"),
            plugin: plugin, input: input.isNull ? [:] : input,
            chatOpsAppName: try reader.optionalString(object["chatOpsAppName"], "\(path).chatOpsAppName"))
    }

    static func decodePlugin(_ json: JSONValue, reader: ExportReader, path: String) throws(RelayError)
        -> ICONPluginReference
    {
        let object = try reader.object(json, path)
        let slug = try reader.string(object["slugName"], "\(path).slugName")
        guard slug.range(of: #"^[a-z0-9_]{1,100}$"#, options: .regularExpression) != nil else {
            throw reader.fail(
                "\(path).slugName",
                "expected a plugin name (lowercase letters, digits and _), found "
                    + "\(JSONWriter.compact.string(.string(slug)))"
            )
        }
        let version = try reader.optionalString(object["slugVersion"], "\(path).slugVersion") ?? ""
        guard version.isEmpty || version.range(of: #"^[0-9A-Za-z.+_-]{1,64}$"#, options: .regularExpression) != nil
        else {
            throw reader.fail(
                "\(path).slugVersion",
                "expected a version such as 2.0.3, found \(JSONWriter.compact.string(.string(version)))")
        }
        return ICONPluginReference(
            title: try reader.optionalString(object["name"], "\(path).name") ?? slug,
            vendor: try reader.optionalString(object["slugVendor"], "\(path).slugVendor") ?? "rapid7",
            slug: slug, version: version)
    }
}

/// Typed access to the export's JSON; every failure names the file and the JSON path.
struct ExportReader {
    let file: String

    func fail(_ path: String, _ message: String) -> RelayError {
        RelayError(.invalidValue, "\(file): \(path): \(message)")
    }

    func object(_ value: JSONValue?, _ path: String) throws(RelayError) -> JSONObject {
        guard let value else { throw fail(path, "expected an object, found nothing") }
        guard let object = value.objectValue else { throw fail(path, "expected an object, found \(value.typeName)") }
        return object
    }

    func array(_ value: JSONValue?, _ path: String) throws(RelayError) -> [JSONValue] {
        guard let value else { throw fail(path, "expected an array, found nothing") }
        guard let array = value.arrayValue else { throw fail(path, "expected an array, found \(value.typeName)") }
        return array
    }

    func string(_ value: JSONValue?, _ path: String) throws(RelayError) -> String {
        guard let value else { throw fail(path, "expected a string, found nothing") }
        guard let string = value.stringValue else { throw fail(path, "expected a string, found \(value.typeName)") }
        return string
    }

    func optionalString(_ value: JSONValue?, _ path: String) throws(RelayError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let string = value.stringValue else { throw fail(path, "expected a string, found \(value.typeName)") }
        return string
    }

    /// A boolean; absent or null is false.
    func bool(_ value: JSONValue?, _ path: String) throws(RelayError) -> Bool {
        guard let value, !value.isNull else { return false }
        guard let bool = value.boolValue else { throw fail(path, "expected true or false, found \(value.typeName)") }
        return bool
    }
}
