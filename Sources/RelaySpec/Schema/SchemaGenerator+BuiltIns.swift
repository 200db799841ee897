import RelayCore

extension SchemaGenerator {
    /// Spec types written inline into a property.
    static let primitiveForms: [String: JSONObject] = [
        "boolean": ["type": "boolean"], "bool": ["type": "boolean"],
        "integer": ["type": "integer"], "int": ["type": "integer"],
        "number": ["type": "number"], "float": ["type": "number"],
        "string": ["type": "string"],
        "date": ["type": "string", "format": "date-time", "displayType": "date"],
        "bytes": ["type": "string", "format": "bytes", "displayType": "bytes"],
        "object": ["type": "object"],
    ]

    /// Built-in types written as a `$ref` to a fixed definition (the reference's literal definitions).
    static let builtInDefinitions: JSONObject = [
        "file": [
            "id": "file", "type": "object", "title": "File", "description": "File Object",
            "properties": [
                "filename": ["type": "string", "title": "Filename", "description": "Name of file"],
                "content": ["type": "string", "format": "bytes", "title": "Content", "description": "File contents"],
            ],
        ],
        "password": ["type": "string", "format": "password", "displayType": "password"],
        "python": ["type": "string", "format": "python", "displayType": "python"],
        "credential_username_password": [
            "id": "credential_username_password", "title": "Credential: Username and Password",
            "description": "A username and password combination", "type": "object",
            "properties": [
                "username": [
                    "type": "string", "title": "Username", "description": "The username to log in with", "order": 1,
                ],
                "password": [
                    "type": "string", "title": "Password", "description": "The password", "format": "password",
                    "displayType": "password", "order": 2,
                ],
            ],
            "required": ["username", "password"],
        ],
        "credential_asymmetric_key": [
            "id": "credential_asymmetric_key", "type": "object", "title": "Credential: Asymmetric key",
            "description": "A shared key", "required": ["privateKey"],
            "properties": [
                "privateKey": [
                    "type": "string", "title": "Private Key", "description": "The private key", "format": "password",
                    "displayType": "password",
                ]
            ],
        ],
        "credential_token": [
            "id": "credential_token", "type": "object", "title": "Credential: Token",
            "description": "A pair of a token, and an optional domain", "required": ["token"],
            "properties": [
                "domain": ["type": "string", "title": "Domain", "description": "The domain for the token", "order": 1],
                "token": [
                    "type": "string", "title": "Token", "description": "The shared token", "format": "password",
                    "displayType": "password", "order": 2,
                ],
            ],
        ],
        "credential_secret_key": [
            "id": "credential_secret_key", "type": "object", "title": "Credential: Secret Key",
            "description": "A shared secret key", "required": ["secretKey"],
            "properties": [
                "secretKey": [
                    "type": "string", "title": "Secret Key", "description": "The shared secret key",
                    "format": "password", "displayType": "password",
                ]
            ],
        ],
    ]
}
