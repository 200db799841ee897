import Foundation
import RelayEngine
import Testing
import Yams

/// docker-compose.yml, checked without a Docker engine (these machines have none): `docker-compose config` validates
/// the file and prints it resolved (variables substituted, anchors and merges expanded, paths absolute), and the
/// topology docs/docker.md describes is asserted on that output, with every Compose at hand (Debian's 1.29 from
/// scripts/setup --test; RELAY_DOCKER_COMPOSE may name more, e.g. a Compose v2 binary).
@Suite(
    .enabled(
        if: !DockerCompose.available.isEmpty,
        "docker-compose is not installed (scripts/setup --test installs it)"))
struct DockerComposeTests {
    static let relayServices: Set = ["topics", "triggers1", "triggers2", "dispatcher1", "dispatcher2", "worker"]
    /// The services that share the PostgreSQL store (docs/ha.md): any one of them may die.
    static let storeServices: Set = ["triggers1", "triggers2", "dispatcher1", "dispatcher2"]

    @Test(arguments: DockerCompose.available)
    func theFileIsValid(_ compose: DockerCompose) async throws {
        let result = try await compose.run(["config", "-q"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "", "no warnings")
    }

    @Test(arguments: DockerCompose.available)
    func kafkaInKRaftModeThenTheTopicsThenTheRelayServices(_ compose: DockerCompose) async throws {
        let configuration = try await compose.resolved()
        let services = try #require(configuration["services"])
        #expect(Set(services.mappingKeys) == Self.relayServices.union(["kafka", "postgres"]))

        let kafka = try #require(services["kafka"])
        #expect(kafka["image"]?.string?.hasPrefix("apache/kafka:") == true)
        let roles = kafka["environment"]?["KAFKA_PROCESS_ROLES"]?.string?.split(separator: ",").map(String.init) ?? []
        #expect(Set(roles) == ["broker", "controller"], "KRaft, no ZooKeeper")
        #expect(kafka["environment"]?["KAFKA_ZOOKEEPER_CONNECT"] == nil)
        #expect(kafka["healthcheck"]?["test"] != nil, "the topics wait for a healthy broker")
        let listeners = kafka["environment"]?["KAFKA_ADVERTISED_LISTENERS"]?.string ?? ""

        let topics = try #require(services["topics"])
        #expect(topics["depends_on"]?["kafka"]?["condition"]?.string == "service_healthy")
        #expect(topics["restart"] == nil || topics["restart"]?.string == "no", "a one-shot")

        var images: Set<String> = []
        for name in Self.relayServices {
            let service = try #require(services[name])
            // Built from the repository's Dockerfile, whose ENTRYPOINT is relay: the command is relay's arguments.
            let context = try #require(service["build"]?["context"]?.string, "\(name): no build")
            #expect(DockerCompose.canonical(context) == DockerCompose.canonical(RelayProcess.packageRoot.path))
            #expect(service["build"]?["dockerfile"]?.string ?? "Dockerfile" == "Dockerfile")
            #expect(
                service["entrypoint"] == nil || service["entrypoint"]?.null != nil,
                "\(name) keeps the image's ENTRYPOINT")
            images.insert(service["image"]?.string ?? "")
            let environment = try #require(service["environment"], "\(name): no environment")
            let brokers = try #require(environment["RELAY_BROKERS"]?.string)
            #expect(
                listeners.contains("://\(brokers)"),
                "\(name): RELAY_BROKERS \(brokers) is a listener the broker advertises")
            #expect(environment["RELAY_DIR"]?.string == "/project")
            #expect(DockerCompose.mounts(service).contains { $0.target == "/project" }, "\(name) mounts the project")
            guard name != "topics" else { continue }
            #expect(
                service["depends_on"]?["topics"]?["condition"]?.string == "service_completed_successfully",
                "\(name) starts once the topics exist")
            #expect(service["restart"]?.string == "unless-stopped")
        }
        #expect(images.count == 1, "one image for every Relay service: \(images)")

        // The project directory is shared: same source everywhere (the dispatcher and the trigger host keep
        // different SQLite files in it, and everything reads the workflows, connections and master key there).
        let sources = Set(Self.relayServices.map { DockerCompose.projectSource(services[$0]) })
        let example = RelayProcess.packageRoot.appendingPathComponent("examples/project").path
        #expect(sources == [DockerCompose.canonical(example)])

        // `--scale worker=N`: nothing in a worker may be unique to one container.
        let worker = try #require(services["worker"])
        #expect(worker["container_name"] == nil)
        #expect(
            DockerCompose.ports(worker).allSatisfy { $0.published.isEmpty },
            "a host port can be bound by one worker only")
        // SIGTERM drains: jobs in flight finish; a step may run 60 s (the default timeout) before Docker's SIGKILL.
        let grace = try #require(worker["stop_grace_period"]?.string.flatMap(DockerCompose.seconds))
        #expect(grace > 60)

        for (name, published) in [("triggers1", "8080"), ("triggers2", "8081")] {
            let triggers = try #require(services[name])
            let port = try #require(triggers["environment"]?["RELAY_PORT"]?.string)
            #expect(
                DockerCompose.ports(triggers).contains { $0.published == published && $0.target == port },
                "\(name): webhooks on the host's \(published)")
        }
    }

    /// Two dispatchers and two trigger hosts share one PostgreSQL store and start once it accepts connections.
    @Test(arguments: DockerCompose.available)
    func theDispatchersAndTheTriggerHostsShareAHealthyPostgreSQL(_ compose: DockerCompose) async throws {
        let configuration = try await compose.resolved()
        let services = try #require(configuration["services"])
        let postgres = try #require(services["postgres"])
        #expect(postgres["image"]?.string?.hasPrefix("postgres:") == true)
        let healthcheck = postgres["healthcheck"]?["test"]?.array().compactMap(\.string).joined(separator: " ") ?? ""
        #expect(healthcheck.contains("pg_isready"), "the dispatchers wait for a server that accepts connections")
        #expect(postgres["restart"]?.string == "unless-stopped")
        // The data outlives the container: a named volume, declared at the top level.
        let data = try #require(DockerCompose.mounts(postgres).first { $0.target == "/var/lib/postgresql/data" })
        #expect(configuration["volumes"]?[data.source] != nil, "\(data.source) is a named volume")
        let environment = try #require(postgres["environment"])
        let password = try #require(environment["POSTGRES_PASSWORD"]?.string)
        #expect(!password.isEmpty)

        for name in Self.storeServices {
            let service = try #require(services[name])
            #expect(
                service["depends_on"]?["postgres"]?["condition"]?.string == "service_healthy",
                "\(name) starts once PostgreSQL accepts connections")
            // What PostgresURL reads: postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=disable.
            let text = try #require(service["environment"]?["RELAY_STORE_URL"]?.string, "\(name): no RELAY_STORE_URL")
            let url = try #require(URLComponents(string: text), "\(name): \(text)")
            #expect(url.scheme == "postgres")
            #expect(url.host == "postgres", "\(name): the compose service's name")
            #expect(url.port ?? 5432 == 5432)
            #expect(url.user == environment["POSTGRES_USER"]?.string)
            #expect(url.password == password, "\(name): the server's password")
            #expect(url.path == "/" + (environment["POSTGRES_DB"]?.string ?? ""))
            #expect(url.queryItems == [URLQueryItem(name: "sslmode", value: "disable")])
        }
        #expect(
            services["worker"]?["depends_on"]?["postgres"] == nil, "workers keep no state: they need no database")
    }

    /// The header's command for one of each names real services, and what they depend on is among them: neither
    /// dispatcher2 nor triggers2 is needed by the others.
    @Test(arguments: DockerCompose.available)
    func oneOfEachStartsWithoutTheSecondDispatcherAndTriggerHost(_ compose: DockerCompose) async throws {
        let configuration = try await compose.resolved()
        let services = try #require(configuration["services"])
        let text = try String(contentsOf: DockerCompose.file, encoding: .utf8)
        let line = try #require(
            text.split(separator: "\n").first { $0.contains("docker compose up -d kafka ") },
            "the header says how to run one of each")
        let named = Set(
            (line.components(separatedBy: "up -d ").last ?? "").split(separator: "#").first?
                .split(separator: " ").map(String.init) ?? [])
        #expect(named.isSuperset(of: ["dispatcher1", "triggers1", "worker"]))
        #expect(named.isDisjoint(with: ["dispatcher2", "triggers2"]))
        for name in named {
            let service = try #require(services[name], "\(name) is not a service")
            let needs = Set(service["depends_on"]?.mappingKeys ?? [])
            #expect(needs.isSubset(of: named), "\(name) needs \(needs.subtracting(named))")
        }
    }

    @Test(arguments: DockerCompose.available)
    func theProjectAndTheSettingsComeFromTheEnvironment(_ compose: DockerCompose) async throws {
        let project = FileManager.default.temporaryDirectory
            .appendingPathComponent("relay-compose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: project) }
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let configuration = try await compose.resolved(environment: [
            "RELAY_PROJECT": project.path, "RELAY_MASTER_KEY": key, "RELAY_WORKER_CONCURRENCY": "3",
            "RELAY_WEBHOOK_PORT": "18080", "RELAY_WEBHOOK_PORT_2": "18081", "RELAY_POSTGRES_PASSWORD": "s3cret",
        ])
        let services = try #require(configuration["services"])
        for name in Self.relayServices {
            #expect(DockerCompose.projectSource(services[name]) == DockerCompose.canonical(project.path), "\(name)")
            #expect(
                services[name]?["environment"]?["RELAY_MASTER_KEY"]?.string == key,
                "\(name) can open the connections' secrets")
        }
        #expect(services["worker"]?["environment"]?["RELAY_WORKER_CONCURRENCY"]?.string == "3")
        for (name, published) in [("triggers1", "18080"), ("triggers2", "18081")] {
            let triggers = try #require(services[name])
            #expect(DockerCompose.ports(triggers).contains { $0.published == published && $0.target == "8080" })
        }
        #expect(services["postgres"]?["environment"]?["POSTGRES_PASSWORD"]?.string == "s3cret")
        for name in Self.storeServices {
            let url = services[name]?["environment"]?["RELAY_STORE_URL"]?.string ?? ""
            #expect(URLComponents(string: url)?.password == "s3cret", "\(name): \(url)")
        }
    }

    /// What each service runs is a real `relay` command with real options, the topics it applies are in the image,
    /// and every RELAY_ setting it gets is one Relay reads.
    @Test(arguments: DockerCompose.available)
    func everyServiceRunsARealRelayCommand(_ compose: DockerCompose) async throws {
        let configuration = try await compose.resolved()
        let services = try #require(configuration["services"])
        let sources = try DockerCompose.swiftSources()
        for name in Self.relayServices {
            let service = try #require(services[name])
            let command = service["command"]?.array().compactMap(\.string) ?? []
            let words = Array(command.prefix { !$0.hasPrefix("-") })
            #expect(!words.isEmpty, "\(name): no command")
            let help = try await RelayProcess.run(words + ["--help"])
            #expect(help.status == 0, "\(name): relay \(words.joined(separator: " ")): \(help.stderr)")
            #expect(
                help.stdout.contains("USAGE: relay \(words.joined(separator: " "))"),
                "\(name): not a relay command: \(command)")
            for option in command.dropFirst(words.count) where option.hasPrefix("--") {
                #expect(help.stdout.contains(option), "\(name): relay \(words.joined(separator: " ")) has no \(option)")
            }
            for variable in service["environment"]?.mappingKeys ?? [] where variable.hasPrefix("RELAY_") {
                #expect(sources.contains("\"\(variable)\""), "\(name): \(variable) is read nowhere in Sources/")
            }
        }
        let topics = services["topics"]?["command"]?.array().compactMap(\.string) ?? []
        let index = try #require(topics.firstIndex(of: "--topics"), "topics apply --topics DIR")
        try #require(topics.indices.contains(index + 1), "topics apply --topics DIR")
        let directory = topics[index + 1]
        let dockerfile = try DockerfileTests.dockerfile()
        #expect(dockerfile.contains("\nCOPY topics \(directory)\n"), "the image holds \(directory)")
        // What the image's topics/ declares: relay.trigger-owners too, which the trigger hosts' group shares out.
        let declarations = try String(
            contentsOf: RelayProcess.packageRoot.appendingPathComponent("topics/relay.yaml"), encoding: .utf8)
        let root = try #require(try Yams.compose(yaml: declarations))
        let declared = root["topics"]?.array().compactMap { $0["name"]?.string } ?? []
        #expect(declared.contains(KafkaTriggerOwnership.topic), "topics/relay.yaml: \(declared)")
    }
}

/// The Dockerfile builds what the compose file runs.
@Suite struct DockerfileTests {
    static func dockerfile() throws -> String {
        try String(contentsOf: RelayProcess.packageRoot.appendingPathComponent("Dockerfile"), encoding: .utf8)
    }

    static func manifest() throws -> String {
        try String(contentsOf: RelayProcess.packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
    }

    @Test func buildsTheRelayProductAndRunsIt() throws {
        let dockerfile = try Self.dockerfile()
        let manifest = try Self.manifest()
        #expect(manifest.contains(".executable(name: \"relay\","))
        #expect(dockerfile.contains("swift build -c release --product relay"))
        #expect(dockerfile.contains("\nENTRYPOINT [\"relay\"]\n"))
        #expect(dockerfile.contains("\nWORKDIR /project\n"), "the compose file mounts the project there")
        // RelayPlugins' specs are a resource bundle that Bundle.module looks for beside the executable.
        #expect(dockerfile.contains("-name '*.resources'"))
    }

    /// A system library added to the manifest (`providers: [.apt([...])]`) must be installed where the image builds.
    @Test func theBuildStageInstallsEverySystemLibraryOfTheManifest() throws {
        let stages = try Self.dockerfile().components(separatedBy: "\nFROM ")
        try #require(stages.count == 3, "an ARG prelude, a build stage and a runtime stage")
        let installed = Set(stages[1].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        let declared = try Self.manifest().components(separatedBy: ".apt([").dropFirst().flatMap { list in
            (list.components(separatedBy: "])").first ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
        }
        #expect(!declared.isEmpty)
        for package in declared {
            #expect(installed.contains(package), "the build stage does not install \(package)")
        }
    }

    /// relay links tcmalloc by its file name (Package.swift): the image must have it where relay is linked and
    /// where it runs, or the build fails (and the runtime image's relay would not start).
    @Test func bothStagesInstallTheAllocatorRelayLinks() throws {
        #expect(try Self.manifest().contains("-l:libtcmalloc_minimal.so.4"))
        let stages = try Self.dockerfile().components(separatedBy: "\nFROM ")
        try #require(stages.count == 3, "an ARG prelude, a build stage and a runtime stage")
        for stage in stages.dropFirst() {
            let installed = Set(stage.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
            #expect(installed.contains("libtcmalloc-minimal4"), "\(stage.prefix(40))")
        }
    }
}

/// A docker-compose executable.
struct DockerCompose: Sendable, CustomTestStringConvertible {
    let executable: URL
    var testDescription: String { executable.path }

    static let file = RelayProcess.packageRoot.appendingPathComponent("docker-compose.yml")

    /// `docker-compose` on PATH, then the paths in RELAY_DOCKER_COMPOSE (colon-separated), each once.
    static let available: [DockerCompose] = {
        let environment = ProcessInfo.processInfo.environment
        let onPath = (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/docker-compose" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let listed = (environment["RELAY_DOCKER_COMPOSE"] ?? "").split(separator: ":").map(String.init)
        var seen: Set<String> = []
        return ([onPath].compactMap { $0 } + listed)
            .filter { FileManager.default.isExecutableFile(atPath: $0) }
            .filter { seen.insert(URL(fileURLWithPath: $0).resolvingSymlinksInPath().path).inserted }
            .map { DockerCompose(executable: URL(fileURLWithPath: $0)) }
    }()

    /// Every variable the file substitutes, set empty, so that `${NAME:-default}` takes its default whatever the
    /// environment (or a developer's .env) says; a test sets those it wants.
    static let defaults: [String: String] = {
        let text = (try? String(contentsOf: DockerCompose.file, encoding: .utf8)) ?? ""
        let names = text.components(separatedBy: "${").dropFirst()
            .map { String($0.prefix { $0 == "_" || $0.isLetter || $0.isNumber }) }
        return Dictionary(names.map { ($0, "") }, uniquingKeysWith: { first, _ in first })
    }()

    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> RelayProcess.Result {
        try await RelayProcess.run(
            ["-f", Self.file.path] + arguments, executable: executable,
            environment: Self.defaults.merging(environment) { $1 })
    }

    /// `config`: the file as Compose resolves it.
    func resolved(environment: [String: String] = [:]) async throws -> Node {
        let result = try await run(["config"], environment: environment)
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try Yams.compose(yaml: result.stdout))
    }

    /// Each mount's source and target: Compose 1 prints "SOURCE:TARGET:MODE", Compose 2 a mapping.
    static func mounts(_ service: Node) -> [(source: String, target: String)] {
        service["volumes"]?.array().compactMap { volume -> (source: String, target: String)? in
            if let text = volume.scalar?.string {
                let parts = text.split(separator: ":").map(String.init)
                return parts.count >= 2 ? (parts[0], parts[1]) : nil
            }
            guard let source = volume["source"]?.string, let target = volume["target"]?.string else { return nil }
            return (source, target)
        } ?? []
    }

    /// Where a service mounts from at /project ("" when it does not).
    static func projectSource(_ service: Node?) -> String {
        guard let service, let mount = mounts(service).first(where: { $0.target == "/project" }) else { return "" }
        return canonical(mount.source)
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    /// Each published port: "PUBLISHED:TARGET[/PROTOCOL]" or a mapping (published is empty when none is).
    static func ports(_ service: Node) -> [(published: String, target: String)] {
        service["ports"]?.array().map { port -> (published: String, target: String) in
            if let text = port.scalar?.string {
                let parts = (text.split(separator: "/").first ?? "").split(separator: ":").map(String.init)
                return parts.count >= 2 ? (parts[parts.count - 2], parts[parts.count - 1]) : ("", parts.first ?? "")
            }
            return (port["published"]?.string ?? "", port["target"]?.string ?? "")
        } ?? []
    }

    /// A Compose duration ("90s", "1m30s", "500ms") in seconds.
    static func seconds(_ duration: String) -> Double? {
        let scales: [String: Double] = ["h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000_001]
        var total = 0.0
        var rest = Substring(duration)
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest.removeFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest.removeFirst(unit.count)
            guard let value = Double(number), let scale = scales[String(unit)] else { return nil }
            total += value * scale
        }
        return total
    }

    /// Every Swift source of Relay, concatenated.
    static func swiftSources() throws -> String {
        let root = RelayProcess.packageRoot.appendingPathComponent("Sources").path
        return try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }
            .map { try String(contentsOfFile: root + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
    }
}

extension Node {
    /// A mapping's keys, as strings.
    fileprivate var mappingKeys: [String] { mapping?.compactMap { $0.key.string } ?? [] }
}
