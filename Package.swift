// swift-tools-version:6.0
import PackageDescription

// Dependencies flow one way (docs/architecture.md draws the graph):
// RelayCore (no I/O) ← RelaySpec ← RelaySDK ← RelayTransport ← RelayStore / RelayKafka ← RelayEngine ← RelayBench
// ← RelayCLI ← relay; RelayImport (on RelayCore and RelaySpec only) ← RelayCLI
// RelayPostgres (RelayTransport's SQLDatabase on PostgreSQL, over postgres-nio) on RelayCore and RelayTransport
let package = Package(
    name: "Relay",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "relay", targets: ["relay"]),
        .executable(name: "relay-plugin-base64", targets: ["RelayPluginBase64"]),
        .executable(name: "relay-plugin-hashit", targets: ["RelayPluginHashit"]),
        .executable(name: "relay-plugin-type_converter", targets: ["RelayPluginTypeConverter"]),
        .executable(name: "relay-plugin-timer", targets: ["RelayPluginTimer"]),
        .executable(name: "relay-plugin-webhook", targets: ["RelayPluginWebhook"]),
        .executable(name: "relay-plugin-hello", targets: ["RelayPluginHello"]),
        .executable(name: "relay-plugin-sleep", targets: ["RelayPluginSleep"]),
        .library(name: "RelayCore", targets: ["RelayCore"]),
        .library(name: "RelaySpec", targets: ["RelaySpec"]),
        .library(name: "RelaySDK", targets: ["RelaySDK"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        // RelaySDK's channel handler (NIOCore, NIOHTTPTypes, HTTPTypes) below Hummingbird's API.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/attaswift/BigInt.git", from: "6.0.0"),
        // Metrics: swift-metrics' API, exported for Prometheus by swift-prometheus (one registry per pipeline).
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // PostgreSQL's wire protocol, for RelayPostgres.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // librdkafka (Debian librdkafka-dev), reached through a module map and a shim header.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // SQLite (Debian libsqlite3-dev), for the embedded bus and the run store.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // A VFS over SQLite's default one that writes a transaction's WAL frames in one system call.
        .target(name: "CSQLiteWAL", dependencies: ["CSQLite"]),
        // posix_spawn into a new process group (plugins and all they start end with their step).
        .target(name: "CProcessSpawn"),
        // Models without I/O: JSON values, v1 envelopes, errors.
        .target(
            name: "RelayCore",
            dependencies: [
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        // plugin.spec.yaml: model, decoding, JSON schema generation, value validation, spec linting.
        .target(
            name: "RelaySpec",
            dependencies: [
                "RelayCore", .product(name: "Yams", package: "Yams"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // What plugin authors program against.
        .target(
            name: "RelaySDK",
            dependencies: [
                "RelayCore", "RelaySpec", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The transport protocol the pipeline is written against, and its embedded implementation.
        .target(
            name: "RelayTransport",
            dependencies: [
                "RelayCore", "RelaySpec", "CSQLite", "CSQLiteWAL",
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The run store (what the dispatcher records and `relay runs` reads) and trigger state, behind protocols;
        // their SQLite implementations, and the outbox a dispatcher on another transport publishes through.
        .target(name: "RelayStore", dependencies: ["RelayCore", "RelayTransport"]),
        // SQLDatabase on a PostgreSQL server (postgres-nio), for the run store beside SQLite.
        .target(
            name: "RelayPostgres",
            dependencies: [
                "RelayCore", "RelayTransport", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Kafka transport over librdkafka.
        .target(
            name: "RelayKafka",
            dependencies: [
                "CRdKafka", "RelayCore", "RelayTransport", .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // `relay workflow import`: InsightConnect exports (.icon) → a Relay project (workflows, plugins, connections)
        // and a report of what was and was not translated.
        .target(
            name: "RelayImport",
            dependencies: [
                "RelayCore", "RelaySpec", .product(name: "OrderedCollections", package: "swift-collections"),
            ]),
        // `relay plugin new`: Swift plugin packages generated from specs.
        .target(name: "RelayCodegen", dependencies: ["RelayCore", "RelaySpec"]),
        // The plugins that ship with Relay; their specs are resources.
        .target(
            name: "RelayPlugins",
            dependencies: ["RelayCore", "RelaySDK", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Specs")]
        ),
        // Engine services: trigger host, dispatcher, workers.
        .target(
            name: "RelayEngine",
            dependencies: [
                "RelayCore", "RelaySpec", "RelaySDK", "RelayTransport", "RelayStore", "RelayPostgres", "RelayKafka",
                "CProcessSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The warm plugin runner's HTTP/1.1 client (PluginHTTPClient).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // The OpenAPI document of the operator's API, served at /api/v1/openapi.json; the web UI's files
            // (index.html, app.js, app.css), served at / and /ui/.
            resources: [.copy("API/openapi.json"), .copy("UI")]
        ),
        // `relay bench`: the pipeline's benchmarks (embedded, and on Kafka with worker processes).
        .target(
            name: "RelayBench",
            dependencies: [
                "RelayCore", "RelaySpec", "RelayPlugins", "RelayEngine", "RelayPostgres", "RelayKafka", "RelayStore",
                "RelayTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Command-line front end: flags → configuration → services.
        .target(
            name: "RelayCLI",
            dependencies: [
                "RelayCore", "RelaySpec", "RelaySDK", "RelayPlugins", "RelayEngine", "RelayKafka", "RelayCodegen",
                "RelayBench", "RelayImport",
                "RelayTransport", "RelayStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The relay executable's malloc is tcmalloc's (gperftools' minimal build, Debian's libtcmalloc-minimal4): a
        // burst of runs allocates and frees on many threads, and glibc's allocator cost 7-10 % more CPU per step
        // (docs/benchmarks.md, issue #17's thirteenth round). Linked by its file name (the package has no
        // unversioned .so), kept though relay calls none of its symbols (malloc binds to the first library that
        // defines it: tcmalloc comes before libc). `relay version` says which allocator a binary has.
        .executableTarget(
            name: "relay", dependencies: ["RelayCLI"],
            linkerSettings: [
                .unsafeFlags(
                    ["-Xlinker", "--no-as-needed", "-Xlinker", "-l:libtcmalloc_minimal.so.4"],
                    .when(platforms: [.linux]))
            ]),
        .executableTarget(
            name: "RelayPluginBase64", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/base64"),
        .executableTarget(
            name: "RelayPluginHashit", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/hashit"),
        .executableTarget(
            name: "RelayPluginTypeConverter", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/type_converter"),
        .executableTarget(
            name: "RelayPluginTimer", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/timer"),
        .executableTarget(
            name: "RelayPluginWebhook", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/webhook"),
        .executableTarget(
            name: "RelayPluginHello", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/hello"),
        .executableTarget(
            name: "RelayPluginSleep", dependencies: ["RelayPlugins", "RelaySDK"],
            path: "Sources/NativePluginMains/sleep"),

        .target(name: "RelayTestSupport", dependencies: ["RelayPostgres"], path: "Tests/RelayTestSupport"),
        .testTarget(name: "RelayCoreTests", dependencies: ["RelayCore"]),
        .testTarget(name: "RelaySpecTests", dependencies: ["RelaySpec", "RelayCore", "RelayTestSupport"]),
        .testTarget(
            name: "RelayKafkaTests",
            dependencies: [
                "RelayKafka", "RelayTransport", "RelayCore", "RelayTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "RelayTransportTests",
            dependencies: ["RelayTransport", "RelayCore", "RelayTestSupport", "CSQLite", "CSQLiteWAL"]),
        .testTarget(
            name: "RelayStoreTests",
            dependencies: ["RelayStore", "RelayPostgres", "RelayTransport", "RelayCore", "RelayTestSupport"]),
        .testTarget(name: "RelayPostgresTests", dependencies: ["RelayPostgres", "RelayTransport", "RelayCore"]),
        .testTarget(name: "RelayCodegenTests", dependencies: ["RelayCodegen", "RelaySpec"]),
        .testTarget(
            name: "RelayImportTests",
            dependencies: ["RelayImport", "RelayCore", "RelaySpec", "RelayEngine", "RelayPlugins", "RelaySDK"]),
        .testTarget(
            name: "RelayEngineTests",
            dependencies: [
                "RelayEngine", "RelaySDK", "RelayCore", "RelaySpec", "RelayTransport", "RelayStore", "RelayKafka",
                "RelayPlugins", "RelayTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "RelayPluginsTests",
            dependencies: [
                "RelayPlugins", "RelaySDK", "RelayCore", "RelaySpec", "RelayTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("../Fixtures/originals")]
        ),
        .testTarget(
            name: "RelayCLITests",
            dependencies: [
                "RelayCLI", "relay", "RelayPluginBase64", "RelayPluginHello", "RelayEngine", "RelayTransport",
                "RelayStore", "RelayKafka", "RelayCore", "RelayPlugins", "RelaySDK", "RelayTestSupport",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzzing (scripts/fuzz, docs/fuzzing.md). libFuzzer supplies `main`, so the fuzz executable links only when built
// with `-sanitize=fuzzer`; it is declared only when RELAY_FUZZ is set, and a plain `swift build` never sees it.
if Context.environment["RELAY_FUZZ"] != nil {
    package.products.append(.executable(name: "relay-fuzz", targets: ["RelayFuzz"]))
    package.targets += [
        .target(name: "CFuzzerDriver", path: "fuzz/Sources/CFuzzerDriver"),
        .executableTarget(
            name: "RelayFuzz", dependencies: ["CFuzzerDriver", "RelayCore", "RelaySpec"],
            path: "fuzz/Sources/RelayFuzz",
            // main.swift becomes RelayFuzz_main and `main` by --defsym; libFuzzer's archive brings its own `main`,
            // and ld.gold fails on the pair with an internal error. lld (shipped with Swift) takes the defsym.
            linkerSettings: [.unsafeFlags(["-use-ld=lld"])]),
    ]
}
