import RelayCore

/// What a `postgres://user:password@host:port/database?sslmode=disable` URL says: where the server is and who
/// connects. `location` is the URL with the password replaced by `***`, for messages.
struct PostgresURL: Sendable, Equatable {
    var username: String
    var password: String?
    var host: String
    var port: Int
    var database: String?
    var location: String

    static let expected = "postgres://user[:password]@host[:port]/database[?sslmode=disable]"
    /// Longer than any real URL: a limit on what is parsed.
    static let maximumLength = 4096

    init(parsing url: String) throws(RelayError) {
        func malformed(_ found: String) -> RelayError {
            RelayError(.configuration, "PostgreSQL URL: expected \(Self.expected), found \(found)")
        }
        guard url.utf8.count <= Self.maximumLength else {
            throw malformed("\(url.utf8.count) bytes (at most \(Self.maximumLength))")
        }
        let rest: Substring
        if url.hasPrefix("postgres://") {
            rest = url.dropFirst("postgres://".count)
        } else if url.hasPrefix("postgresql://") {
            rest = url.dropFirst("postgresql://".count)
        } else {
            throw malformed("no postgres:// or postgresql:// at the start")
        }
        // Query first: everything after the first `?`.
        let beforeQuery = rest.prefix { $0 != "?" }
        let query = rest.dropFirst(beforeQuery.count + 1)
        // The authority ends at the first `/`; the user information at the last `@` in it.
        let authority = beforeQuery.prefix { $0 != "/" }
        let path = beforeQuery.dropFirst(authority.count + 1)
        guard let at = authority.lastIndex(of: "@") else {
            throw malformed("no user (user@ before the host)")
        }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        let rawUser = userInfo.prefix { $0 != ":" }
        let rawPassword: Substring? =
            userInfo.count > rawUser.count ? userInfo.dropFirst(rawUser.count + 1) : nil
        guard let username = Self.percentDecoded(rawUser), !username.isEmpty else {
            throw malformed("an empty or badly percent-encoded user")
        }
        var password: String?
        if let rawPassword {
            guard let decoded = Self.percentDecoded(rawPassword) else {
                throw malformed("a badly percent-encoded password")
            }
            password = decoded
        }
        // Host: a name, an IPv4 address or an IPv6 address in brackets; then an optional `:port`.
        let host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw malformed("an IPv6 host without its ]") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw malformed("\"\(after)\" after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else {
            host = hostPort.prefix { $0 != ":" }
            if hostPort.count > host.count { portText = hostPort.dropFirst(host.count + 1) }
        }
        guard !host.isEmpty, let decodedHost = Self.percentDecoded(host) else { throw malformed("no host") }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw malformed("port \"\(portText)\" (expected a number from 1 to 65535)")
            }
            port = value
        }
        var database: String?
        if !path.isEmpty {
            guard let decoded = Self.percentDecoded(path), !decoded.contains("/") else {
                throw malformed("database \"\(path)\" (expected one name)")
            }
            database = decoded
        }
        for parameter in query.split(separator: "&") where !parameter.isEmpty {
            let key = parameter.prefix { $0 != "=" }
            let value = Self.percentDecoded(parameter.dropFirst(key.count + 1)) ?? ""
            switch key {
            case "sslmode":
                guard value == "disable" else {
                    throw RelayError(
                        .configuration,
                        "PostgreSQL URL: sslmode=\(value) is not supported yet (expected sslmode=disable, or none)")
                }
            default:
                throw malformed("the parameter \"\(key)\" (only sslmode=disable is understood)")
            }
        }
        self.username = username
        self.password = password
        self.host = decodedHost
        self.port = port
        self.database = database
        let shownUser = String(rawUser)
        location =
            "postgres://\(shownUser)\(password == nil ? "" : ":***")@\(hostPort)"
            + (path.isEmpty ? "" : "/\(path)") + (query.isEmpty ? "" : "?\(query)")
    }

    /// `%XX` escapes decoded as UTF-8; nil for a bad escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.next().flatMap(hexValue), let low = utf8.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
