import Hummingbird
import RelayCore

/// `GET /connections`: names, plugins and parameters, every secret masked.
extension OperatorAPI {
    func addConnectionRoutes(to api: RouterGroup<BasicRequestContext>) {
        api.route(.get, "/connections") { _, _ -> Response in
            let entries = self.connections.all.map { connection -> JSONValue in
                [
                    "name": .string(connection.name), "plugin": .string(connection.plugin),
                    "parameters": connection.masked(catalog: self.catalog),
                    "secret_fields": .array(connection.secretFields.map(JSONValue.string)),
                ]
            }
            return APIResponse.json(["connections": .array(entries)])
        }
    }
}

extension ConnectionStore.Connection {
    /// The parameters with every secret masked as `********`: the fields the plugin's connection schema makes secret,
    /// and any other value equal to a secret (a password repeated in a URL).
    public func masked(catalog: PluginCatalog) -> JSONValue {
        var object = parameters.objectValue ?? [:]
        for field in secretFields where object[field] != nil && object[field] != .null {
            object[field] = "********"
        }
        guard let entry = catalog[plugin] else { return .object(object) }
        return entry.secretMasker(for: parameters).mask(.object(object))
    }
}
