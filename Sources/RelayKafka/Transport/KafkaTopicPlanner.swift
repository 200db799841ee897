import RelayTransport

/// What `relay topics apply` did or found for one declared topic.
public struct TopicApplyOutcome: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// The topic did not exist and was created as declared.
        case created
        /// The topic exists as declared.
        case unchanged
        /// The topic exists but differs from its declaration; nothing was changed.
        case drift
        /// The topic could not be created or described.
        case failed
    }

    public var topic: String
    public var status: Status
    /// For drift: each difference, as "what is declared, what was found"; for failed: the error.
    public var details: [String]
}

/// Makes the declared topics exist: creates what is missing, reports what differs, never deletes or alters
/// (changing partitions moves keys between partitions; changing config is an operator's decision).
public struct KafkaTopicPlanner: Sendable {
    let admin: KafkaAdmin

    public init(admin: KafkaAdmin) { self.admin = admin }

    public func apply(_ declarations: [TopicDeclaration]) async throws -> [TopicApplyOutcome] {
        let names = declarations.map(\.name)
        let existing = try await admin.describeTopicNames(names)
        let created = try await admin.createTopics(declarations.filter { !existing.contains($0.name) })
        let described = try await admin.describeTopics(names.filter { existing.contains($0) })
        return declarations.map { declaration in
            if let outcome = created[declaration.name] {
                switch outcome {
                case .success(.created):
                    return TopicApplyOutcome(topic: declaration.name, status: .created, details: [])
                case .failure(let error):
                    return TopicApplyOutcome(topic: declaration.name, status: .failed, details: [error.message])
                case .success(.alreadyExisted): break // created by someone else meanwhile: compare below
                }
            }
            guard let found = described[declaration.name] else {
                return TopicApplyOutcome(topic: declaration.name, status: .unchanged, details: [])
            }
            let differences = Self.differences(declaration, found)
            return TopicApplyOutcome(
                topic: declaration.name, status: differences.isEmpty ? .unchanged : .drift,
                details: differences)
        }
    }

    static func differences(_ declared: TopicDeclaration, _ found: KafkaTopicDescription) -> [String] {
        var differences: [String] = []
        if declared.partitions != found.partitions {
            differences.append("partitions: declared \(declared.partitions), found \(found.partitions)")
        }
        if declared.replicationFactor != found.replicationFactor {
            differences.append(
                "replication_factor: declared \(declared.replicationFactor), found \(found.replicationFactor)")
        }
        if let config = found.config {
            for (key, value) in declared.config.sorted(by: { $0.key < $1.key }) where config[key] != value {
                differences.append("config \(key): declared \(value), found \(config[key] ?? "nothing")")
            }
        } else if !declared.config.isEmpty {
            differences.append("config not checked: \(found.configProblem ?? "the broker did not describe it")")
        }
        return differences
    }
}
