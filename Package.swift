// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// dynokeeper runs on Linux only (SwiftPM cannot declare Linux in `platforms`): it needs Glibc's flock, fork/exec
// and process groups, and Debian's redis-server in its tests. The only product is the executable; the modules
// are internal to the package (`package` access where a module above needs them).
let package = Package(
    name: "dynokeeper",
    products: [
        .executable(name: "dynokeeper", targets: ["dynokeeper"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: Lowest layer: signing and storage
        .target(
            name: "AWSSigV4",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ObjectStorage",
            dependencies: [
                "CLibcShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ObjectStorageS3",
            dependencies: [
                "AWSSigV4",
                "ObjectStorage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Redis
        .target(
            name: "RedisClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Compression
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "Zstd",
            dependencies: ["CZstd", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // MARK: Node processes
        .target(name: "CLibcShims"),
        .target(
            name: "NodeControl",
            dependencies: [
                "CLibcShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Configuration
        .target(
            name: "DynokeeperConfiguration",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // MARK: Engine: wires configuration to stores (and, later, Redis and node control)
        .target(
            name: "DynokeeperEngine",
            dependencies: [
                "DynokeeperConfiguration",
                "ObjectStorage",
                "ObjectStorageS3",
                "RedisClient",
                "NodeControl",
                "Zstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Ring: the coordinator and its client for the other nodes' dynokeepers
        .target(
            name: "DynokeeperRing",
            dependencies: [
                "DynokeeperConfiguration",
                "DynokeeperEngine",
                "ObjectStorage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: The sidecar daemon: REST API, schedules, metrics
        .target(
            name: "DynokeeperServer",
            dependencies: [
                "DynokeeperConfiguration",
                "DynokeeperEngine",
                "DynokeeperRing",
                "ObjectStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: The command-line tool
        .executableTarget(
            name: "dynokeeper",
            dependencies: [
                "CLibcShims",
                "DynokeeperConfiguration",
                "DynokeeperEngine",
                "DynokeeperRing",
                "DynokeeperServer",
                "ObjectStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Test support: real redis-server and SeaweedFS processes on loopback
        .target(
            name: "DynokeeperTestSupport",
            dependencies: [
                "NodeControl",
                "RedisClient",
                "ObjectStorage",
                "ObjectStorageS3",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/DynokeeperTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AWSSigV4Tests",
            dependencies: ["AWSSigV4", "DynokeeperTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ObjectStorageTests",
            dependencies: [
                "ObjectStorage",
                "DynokeeperTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ObjectStorageS3Tests",
            dependencies: [
                "ObjectStorage",
                "ObjectStorageS3",
                "AWSSigV4",
                "DynokeeperTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient",
                "DynokeeperTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ZstdTests",
            dependencies: ["Zstd", "DynokeeperTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DynokeeperEngineTests",
            dependencies: [
                "DynokeeperEngine",
                "DynokeeperConfiguration",
                "ObjectStorage",
                "ObjectStorageS3",
                "RedisClient",
                "DynokeeperTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeControlTests",
            dependencies: ["NodeControl", "DynokeeperTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DynokeeperServerTests",
            dependencies: [
                "DynokeeperServer",
                "DynokeeperRing",
                "DynokeeperEngine",
                "DynokeeperConfiguration",
                "DynokeeperTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DynokeeperConfigurationTests",
            dependencies: ["DynokeeperConfiguration"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "dynokeeperTests",
            dependencies: ["DynokeeperEngine", "DynokeeperTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
