/// The spec's built-in object types, for typed inputs and connections.

/// `file`: a file name and its Base64 content.
public struct PluginFile: Codable, Sendable, Equatable {
    public var filename: String?
    public var content: String?
    public init(filename: String? = nil, content: String? = nil) {
        self.filename = filename
        self.content = content
    }
}

/// `credential_username_password`.
public struct CredentialUsernamePassword: Codable, Sendable, Equatable {
    public var username: String
    public var password: String
}

/// `credential_secret_key`.
public struct CredentialSecretKey: Codable, Sendable, Equatable {
    public var secretKey: String
}

/// `credential_asymmetric_key`.
public struct CredentialAsymmetricKey: Codable, Sendable, Equatable {
    public var privateKey: String
}

/// `credential_token`.
public struct CredentialToken: Codable, Sendable, Equatable {
    public var token: String
    public var domain: String?
}
