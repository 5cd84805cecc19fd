// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ZeroTask",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "zerotask", targets: ["zerotask"]),
        .library(name: "ZeroTaskProtocol", targets: ["ZeroTaskProtocol"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "ZeroTaskBroker", targets: ["ZeroTaskBroker"]),
        .library(name: "ZeroTaskPlugins", targets: ["ZeroTaskPlugins"]),
        .library(name: "ZeroTaskNode", targets: ["ZeroTaskNode"]),
        .library(name: "ZeroTaskClient", targets: ["ZeroTaskClient"]),
        .library(name: "ZeroTaskHTTP", targets: ["ZeroTaskHTTP"]),
        .library(name: "ZeroTaskLifecycle", targets: ["ZeroTaskLifecycle"]),
        .executable(name: "zerotask-example-client", targets: ["zerotask-example-client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The broker's HTTP server: no dependencies, BSD sockets, async/await (BENCHMARKS.md,
        // "Build time": Hummingbird's SwiftNIO would more than double the clean build).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian (libzmq3-dev, libffi-dev), linked through module maps.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        // libsodium's HMAC-SHA-256 for the dashboard's admin token (libzmq links it already).
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CFFI", path: "Sources/CFFI"),
        // libyaml (libyaml-dev), the configuration file's parser: a C library from Debian costs no
        // Swift build time (Yams, its Swift wrapper, took 28 s of a 2-core release build).
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // SQLite (libsqlite3-dev), the broker's embedded durable store.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // libpq (libpq-dev), the client of the PostgreSQL store that several brokers share.
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Landlock, seccomp and prctl calls for the workers' sandbox.
        .target(name: "CSandbox"),

        // The wire contract: JSON, JSON-RPC 2.0, identifiers, codes. No I/O.
        .target(name: "ZeroTaskProtocol"),
        // Small operating-system facilities every service layer uses and none owns: a poll loop
        // on a thread of its own (LoopThread), the host name. No ZeroMQ, no wire format.
        .target(name: "ZeroTaskSystem"),
        // A small Swift wrapper over libzmq.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ", "ZeroTaskSystem"]),
        // Queueing rules (a state machine) and the ROUTER/PUB service around them.
        .target(
            name: "ZeroTaskBroker",
            dependencies: [
                "ZeroTaskProtocol", "ZeroTaskSystem", "ZeroMQ", "CSQLite", "CPostgres",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Plugins: manifests, dlopen, typed calls through libffi.
        .target(
            name: "ZeroTaskPlugins",
            dependencies: [
                "ZeroTaskProtocol", "CFFI",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The node: plugin host, worker pool and broker session. Not the broker: a built-in one
        // sits behind the node's own `BuiltInBroker` protocol, which the executable conforms to.
        .target(
            name: "ZeroTaskNode",
            dependencies: [
                "ZeroTaskProtocol", "ZeroTaskSystem", "ZeroMQ", "ZeroTaskPlugins", "CSandbox",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The broker's HTTP side: /metrics, /health and the dashboard.
        .target(
            name: "ZeroTaskHTTP",
            dependencies: [
                "ZeroTaskBroker", "ZeroTaskProtocol", "ZeroMQ", "CSodium",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Broker, node and HTTP side as swift-service-lifecycle Services. Kept out of their own
        // modules so that those build beside swift-service-lifecycle's dependencies, not after them.
        .target(
            name: "ZeroTaskLifecycle",
            dependencies: [
                "ZeroTaskBroker", "ZeroTaskNode", "ZeroTaskHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Swift client library (async/await).
        .target(name: "ZeroTaskClient", dependencies: ["ZeroTaskProtocol", "ZeroMQ"]),
        // The README's Swift program, built so that it stays true: a test runs it against a real node.
        .executableTarget(name: "zerotask-example-client", dependencies: ["ZeroTaskClient"], path: "Examples/ClientExample"),
        // Raw broker and libzmq request rates, side by side (not a test).
        .executableTarget(name: "zerotask-wirebench", dependencies: ["ZeroTaskProtocol", "ZeroMQ", "ZeroTaskBroker"]),
        // Submit throughput of the broker's stores, memory and SQLite side by side (not a test).
        .executableTarget(
            name: "zerotask-storebench",
            dependencies: ["ZeroTaskProtocol", "ZeroMQ", "ZeroTaskBroker", .product(name: "Logging", package: "swift-log")]
        ),
        // A real broker process with 1,000,000 queued tasks: memory, submit and claim rates (not a test).
        .executableTarget(name: "zerotask-scalebench", dependencies: ["ZeroTaskProtocol", "ZeroMQ"]),
        // The load loop of `zerotask bench`, optimized like the client it drives.
        .target(name: "ZeroTaskBench", dependencies: ["ZeroTaskClient", "ZeroTaskProtocol"]),
        // The one executable: wires the layers up.
        .executableTarget(
            name: "zerotask",
            dependencies: [
                "ZeroTaskProtocol", "ZeroTaskSystem", "ZeroMQ", "ZeroTaskBroker", "ZeroTaskPlugins", "ZeroTaskNode", "ZeroTaskClient",
                "ZeroTaskHTTP", "ZeroTaskLifecycle", "ZeroTaskBench", "CYAML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Argument parsing, settings and wiring only: every task's path runs in the libraries.
            // Optimized, this module took 37 s of CPU on a 2-core host (mostly argument-parser's
            // generics specialized) and compiled last, alone; unoptimized, 15 s (BENCHMARKS.md,
            // "Build time"). The bench's loop is in ZeroTaskBench, which is optimized.
            swiftSettings: [.unsafeFlags(["-Onone"], .when(configuration: .release))]
        ),

        // Timing loops for plugin calls (not a test): `swift run -c release zerotask-microbench`.
        .executableTarget(
            name: "zerotask-microbench",
            dependencies: ["ZeroTaskPlugins", "ZeroTaskProtocol", .product(name: "Logging", package: "swift-log")]
        ),

        // Helpers the test suites share: a broker on loopback, raw peers, processes, fixtures.
        .target(
            name: "ZeroTaskTestSupport",
            dependencies: ["ZeroTaskBroker", "ZeroTaskProtocol", "ZeroMQ"],
            path: "Tests/ZeroTaskTestSupport"
        ),
        .testTarget(name: "ZeroTaskProtocolTests", dependencies: ["ZeroTaskProtocol"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(
            name: "ZeroTaskPluginsTests",
            dependencies: ["ZeroTaskPlugins", "ZeroTaskProtocol", "ZeroTaskTestSupport"],
            // C plugin sources the tests compile themselves; not sources of this target.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ZeroTaskBrokerTests",
            dependencies: ["ZeroTaskBroker", "ZeroTaskProtocol", "ZeroMQ", "ZeroTaskTestSupport"]
        ),
        .testTarget(
            name: "ZeroTaskNodeTests",
            dependencies: ["ZeroTaskNode", "ZeroTaskBroker", "ZeroTaskLifecycle", "ZeroTaskPlugins", "ZeroTaskProtocol", "ZeroMQ", "ZeroTaskTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            exclude: ["Fixtures", "Browser/drive_dashboard.py"]
        ),
        .testTarget(name: "ZeroTaskHTTPTests", dependencies: ["ZeroTaskHTTP", "ZeroTaskBroker", "ZeroTaskProtocol", "ZeroTaskTestSupport"]),
        .testTarget(
            name: "ZeroTaskClientTests",
            dependencies: ["ZeroTaskClient", "ZeroTaskBroker", "ZeroTaskProtocol", "ZeroTaskSystem", "ZeroMQ", "ZeroTaskTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
